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


class Source(dg.Config):
    commit: str


@dg.asset(name="upstream")
def configured_upstream(config: Source) -> SnapshotStub:
    return SnapshotStub(commit=config.commit, num_images=1)


def _materialize_upstream(instance: dg.DagsterInstance, base_dir: Path, commit: str) -> None:
    dg.materialize(
        [configured_upstream],
        instance=instance,
        resources={"io_manager": JsonRefIOManager(base_dir=str(base_dir))},
        run_config={"ops": {"upstream": {"config": {"commit": commit}}}},
    )


def test_a_run_reads_its_own_upstream_even_when_another_run_wrote_one_since(tmp_path: Path) -> None:
    @dg.asset(deps=["upstream"])
    def meanwhile(context: dg.AssetExecutionContext) -> None:
        _materialize_upstream(context.instance, tmp_path, "from-the-other-run")

    @dg.asset(deps=[meanwhile])
    def reader(upstream: SnapshotStub) -> dict:
        return {"seen_commit": upstream.commit}

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [configured_upstream, meanwhile, reader],
            instance=instance,
            resources={"io_manager": JsonRefIOManager(base_dir=str(tmp_path))},
            run_config={"ops": {"upstream": {"config": {"commit": "own"}}}},
        )
        assert result.success
        assert (
            json.loads((tmp_path / "upstream" / "latest.json").read_text())["commit"] == "from-the-other-run"
        )
        assert json.loads((tmp_path / "reader" / "latest.json").read_text()) == {"seen_commit": "own"}


def test_a_run_without_the_upstream_reads_its_latest_materialization(tmp_path: Path) -> None:
    with dg.instance_for_test() as instance:
        _materialize_upstream(instance, tmp_path, "materialized")
        # What a run still in flight leaves behind before its materialization is recorded.
        (tmp_path / "upstream" / "latest.json").write_text(
            SnapshotStub(commit="in-flight", num_images=0).model_dump_json()
        )
        result = dg.materialize(
            [configured_upstream, downstream],
            selection=[downstream],
            instance=instance,
            resources={"io_manager": JsonRefIOManager(base_dir=str(tmp_path))},
        )
    assert result.success
    assert json.loads((tmp_path / "downstream" / "latest.json").read_text())["seen_commit"] == "materialized"


def test_refs_stored_outside_any_run_are_still_read(tmp_path: Path) -> None:
    (tmp_path / "upstream").mkdir()
    (tmp_path / "upstream" / "latest.json").write_text(
        SnapshotStub(commit="staged", num_images=3).model_dump_json()
    )
    result = dg.materialize(
        [upstream, downstream],
        selection=[downstream],
        resources={"io_manager": JsonRefIOManager(base_dir=str(tmp_path))},
    )
    assert result.success
    assert json.loads((tmp_path / "downstream" / "latest.json").read_text()) == {
        "seen_commit": "staged",
        "doubled": 6,
    }
