import json
from pathlib import Path

import dagster as dg
from pydantic import BaseModel

from resources.io_manager import JsonRefIOManager


class SnapshotStub(BaseModel):
    commit: str
    num_images: int


@dg.asset
def upstream() -> SnapshotStub:
    return SnapshotStub(commit="abc123", num_images=7)


@dg.asset
def downstream(upstream: SnapshotStub) -> dict:
    assert isinstance(upstream, SnapshotStub)
    return {"seen_commit": upstream.commit, "doubled": upstream.num_images * 2}


def test_refs_round_trip_as_json_with_their_type(tmp_path: Path) -> None:
    result = dg.materialize(
        [upstream, downstream], resources={"io_manager": JsonRefIOManager(base_dir=str(tmp_path))}
    )
    assert result.success
    assert json.loads((tmp_path / "upstream" / "latest.json").read_text()) == {
        "commit": "abc123",
        "num_images": 7,
    }
    assert json.loads((tmp_path / "downstream" / "latest.json").read_text()) == {
        "seen_commit": "abc123",
        "doubled": 14,
    }


def test_partitioned_refs_are_stored_per_partition(tmp_path: Path) -> None:
    windows = dg.StaticPartitionsDefinition(["w1", "w2"])

    @dg.asset(partitions_def=windows)
    def window_ref(context: dg.AssetExecutionContext) -> dict:
        return {"window": context.partition_key}

    for key in ("w1", "w2"):
        dg.materialize(
            [window_ref],
            partition_key=key,
            resources={"io_manager": JsonRefIOManager(base_dir=str(tmp_path))},
        )
    assert json.loads((tmp_path / "window_ref" / "w2.json").read_text()) == {"window": "w2"}
    assert json.loads((tmp_path / "window_ref" / "w1.json").read_text()) == {"window": "w1"}
