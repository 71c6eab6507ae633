"""Stores the small typed references assets pass to each other as JSON files, never pickles."""

import json
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import BaseModel

from cvops.io_utils import atomic_write_text
from cvops.paths import cvops_home

RUNS_DIR = "runs"


class JsonRefIOManager(dg.ConfigurableIOManager):
    """One JSON file per asset (and partition) and run under `base_dir`, so two runs never read each other's
    refs: an input comes from the current run when one of its steps produced it, otherwise from the run of the
    asset's latest materialization in the instance. `<asset>/<partition or latest>.json` mirrors the newest write
    for people and for refs stored outside a run. The input's type annotation restores the model."""

    base_dir: str | None = None

    def handle_output(self, context: dg.OutputContext, obj: BaseModel | dict[str, Any] | None) -> None:
        if obj is None:
            return
        payload = obj.model_dump_json(indent=1) if isinstance(obj, BaseModel) else json.dumps(obj, indent=1)
        path = self._run_path(context, context.run_id)
        atomic_write_text(path, payload)
        atomic_write_text(self._newest_path(context), payload)
        context.add_output_metadata({"ref_path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> BaseModel | dict[str, Any]:
        path = self._input_path(context)
        if not path.exists():
            raise FileNotFoundError(
                f"No stored reference at {path} for asset {context.asset_key.to_user_string()}: "
                "materialize it first (or check that CVOPS_HOME points at the same folder)."
            )
        expected = context.dagster_type.typing_type
        if isinstance(expected, type) and issubclass(expected, BaseModel):
            return expected.model_validate_json(path.read_text())
        return json.loads(path.read_text())

    def _input_path(self, context: dg.InputContext) -> Path:
        own = self._run_path(context, context.step_context.run_id)
        if own.exists():
            return own
        run_id = _latest_materialization_run(context)
        if run_id is not None and (recorded := self._run_path(context, run_id)).exists():
            return recorded
        return self._newest_path(context)

    def _root(self, context: dg.InputContext | dg.OutputContext) -> Path:
        root = Path(self.base_dir) if self.base_dir else cvops_home() / "refs"
        return root.joinpath(*context.asset_key.path)

    @staticmethod
    def _name(context: dg.InputContext | dg.OutputContext) -> str:
        return context.asset_partition_key if context.has_asset_partitions else "latest"

    def _run_path(self, context: dg.InputContext | dg.OutputContext, run_id: str) -> Path:
        return self._root(context) / RUNS_DIR / run_id / f"{self._name(context)}.json"

    def _newest_path(self, context: dg.InputContext | dg.OutputContext) -> Path:
        return self._root(context) / f"{self._name(context)}.json"


def _latest_materialization_run(context: dg.InputContext) -> str | None:
    partitions = [context.asset_partition_key] if context.has_asset_partitions else None
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=context.asset_key, asset_partitions=partitions), limit=1
    ).records
    return records[0].run_id if records else None
