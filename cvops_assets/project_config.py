"""The project config file: job-level defaults that every run inherits, manual or launched by a sensor.

`cvops.yaml` (or the file `CVOPS_CONFIG` names) holds run config for assets, in Dagster's own shape:

```yaml
ops:
  trained_model: {config: {epochs: 40, augmentations: [{name: rotate, degrees: 5}]}}
  validation_report: {config: {accuracy_floor: 0.85}}
```

Each job gets the entries of the assets it materializes as its default run config (shown and editable in the
launchpad). Dagster replaces an asset's whole default config when a run request configures that asset, so the
sensors merge their settings into these defaults (`with_defaults`) instead of sending them alone.
"""

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import yaml

from cvops.errors import CVOpsError

PROJECT_CONFIG_ENV = "CVOPS_CONFIG"
PROJECT_CONFIG_FILE = "cvops.yaml"

RunConfig = dict[str, Any]


class ProjectConfigError(CVOpsError):
    """The project config file cannot be read or has an entry that is not run config of a known asset."""


def project_config_path(environment: Mapping[str, str] = os.environ) -> Path | None:
    """`CVOPS_CONFIG` (which must exist), else `./cvops.yaml` when there is one, else None."""
    if named := environment.get(PROJECT_CONFIG_ENV):
        path = Path(named)
        if not path.is_file():
            raise ProjectConfigError(f"{PROJECT_CONFIG_ENV}={named}: no such file.")
        return path
    default = Path(PROJECT_CONFIG_FILE)
    return default if default.is_file() else None


def load_project_config(path: Path | None, asset_names: Collection[str]) -> RunConfig:
    """The `ops` defaults of `path` ({} without a file), checked against the assets of the code location."""
    if path is None:
        return {}
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ProjectConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict) or set(document) - {"ops"}:
        raise ProjectConfigError(
            f"{path}: the file holds one mapping, `ops:`; got {sorted(document)!r:.200}."
        )
    ops = document.get("ops") or {}
    if not isinstance(ops, dict):
        raise ProjectConfigError(f"{path}: `ops` must map asset names to their run config.")
    for name, entry in ops.items():
        if name not in asset_names:
            raise ProjectConfigError(
                f"{path}: `ops.{name}` is not an asset; known: {', '.join(sorted(asset_names))}."
            )
        if not isinstance(entry, dict) or set(entry) != {"config"} or not isinstance(entry["config"], dict):
            raise ProjectConfigError(f"{path}: `ops.{name}` must be `{{config: {{field: value, ...}}}}`.")
    return {"ops": ops}


def for_assets(defaults: RunConfig, asset_names: Collection[str]) -> RunConfig:
    """The part of `defaults` that configures `asset_names`: a job's config may only name its own assets."""
    ops = {name: entry for name, entry in defaults.get("ops", {}).items() if name in asset_names}
    return {"ops": ops} if ops else {}


def with_defaults(defaults: RunConfig, overrides: RunConfig) -> RunConfig:
    """`overrides` merged field by field into `defaults`; lists and scalars of `overrides` replace."""
    merged = dict(defaults)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = with_defaults(merged[key], value)
        else:
            merged[key] = value
    return merged
