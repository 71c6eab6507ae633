"""Stores the small typed references assets pass to each other as JSON files, never pickles."""

import json
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import BaseModel

from cvops.io_utils import atomic_write_text
from cvops.paths import cvops_home


class JsonRefIOManager(dg.ConfigurableIOManager):
    """One JSON file per asset (and partition) under `base_dir`; the input's type annotation restores the model."""

    base_dir: str | None = None

    def handle_output(self, context: dg.OutputContext, obj: BaseModel | dict[str, Any] | None) -> None:
        if obj is None:
            return
        payload = obj.model_dump_json(indent=1) if isinstance(obj, BaseModel) else json.dumps(obj, indent=1)
        path = self._path(context)
        atomic_write_text(path, payload)
        context.add_output_metadata({"ref_path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> BaseModel | dict[str, Any]:
        path = self._path(context)
        if not path.exists():
            raise FileNotFoundError(
                f"No stored reference at {path} for asset {context.asset_key.to_user_string()}: "
                "materialize it first (or check that CVOPS_HOME points at the same folder)."
            )
        expected = context.dagster_type.typing_type
        if isinstance(expected, type) and issubclass(expected, BaseModel):
            return expected.model_validate_json(path.read_text())
        return json.loads(path.read_text())

    def _path(self, context: dg.InputContext | dg.OutputContext) -> Path:
        root = Path(self.base_dir) if self.base_dir else cvops_home() / "refs"
        name = context.asset_partition_key if context.has_asset_partitions else "latest"
        return root.joinpath(*context.asset_key.path) / f"{name}.json"
