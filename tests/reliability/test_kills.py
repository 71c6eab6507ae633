"""SIGKILL the real ingest_job at each fault point it passes, on each version-store backend.

The child runs the deployed definitions, configured only by its environment, and kills itself at the named
point; its marker file proves the kill landed there. Afterwards main must be exactly the old commit or exactly
the published landing folder, and the next runs must finish the ingest once and then find nothing to do.
"""

import signal
from pathlib import Path

import pytest
from faults import (
    MAIN,
    IngestArea,
    champion_problem,
    expected_main,
    ingest_problems,
    kill_ingest_at,
    kill_promotion_at,
    make_landing,
    wap_ingest,
)

from cvops.evaluation.blessing import champion_history
from cvops.faults import (
    ALIAS_PROMOTION,
    ARTIFACT_PUBLISH,
    SNAPSHOT_AFTER_MERGE,
    VERSION_STORE_COMMIT,
    VERSION_STORE_MERGE,
)
from cvops.storage import VersionStore
from cvops.storage.artifacts import LocalArtifactStore
from tests.cvops.storage.lakefs_standin import LakeFSStandIn

NUM_IMAGES = 30
OLD_MAIN = "old main"
PUBLISHED = "published"
# In the order ingest_job reaches them, with what main must hold once the run is killed there.
KILL_POINTS = [
    (VERSION_STORE_COMMIT, OLD_MAIN),  # raw_images commits its ingest branch
    (ARTIFACT_PUBLISH, OLD_MAIN),  # raw_images stores its ingest report
    (VERSION_STORE_MERGE, OLD_MAIN),  # dataset_snapshot merges the audited branch
    (SNAPSHOT_AFTER_MERGE, PUBLISHED),  # merged, but the ingest state does not record it yet
]


@pytest.fixture(params=["local", "lakefs-standin"])
def area(request: pytest.FixtureRequest, tmp_path: Path) -> IngestArea:
    server: LakeFSStandIn | None = (
        request.getfixturevalue("lakefs_standin") if request.param == "lakefs-standin" else None
    )
    area = IngestArea(tmp_path / "ingest", lakefs_url=server.url if server else None)
    area.root.mkdir()
    make_landing(area, NUM_IMAGES)
    area.store().ensure_repository()
    return area


def _main_listing(store: VersionStore) -> dict[str, str]:
    return {info.path: info.sha256 for info in store.list_objects(MAIN)}


@pytest.mark.parametrize(("point", "main_after_kill"), KILL_POINTS)
def test_ingest_killed_at_a_fault_point_publishes_all_or_nothing_then_completes_once(
    area: IngestArea, point: str, main_after_kill: str
) -> None:
    store = area.store()
    old_head, old_listing = store.resolve(MAIN), _main_listing(store)
    expected = expected_main(area.landing)

    returncode, reached = kill_ingest_at(area, point)

    assert (returncode, reached) == (-signal.SIGKILL, point)
    if main_after_kill == OLD_MAIN:
        assert (store.resolve(MAIN), _main_listing(store)) == (old_head, old_listing)
    else:
        assert store.resolve(MAIN) != old_head
        assert _main_listing(store) == expected
    assert wap_ingest(area, "retry") is True
    assert ingest_problems(area) == []
    assert len(_main_listing(store)) == len(expected) == NUM_IMAGES
    outcomes = [row.outcome for row in area.state().rows().values()]
    assert (outcomes.count("ingested"), outcomes.count("duplicate"), outcomes.count("rejected")) == (30, 2, 9)
    published_head = store.resolve(MAIN)
    assert wap_ingest(area, "nothing-new") is True
    assert store.resolve(MAIN) == published_head


def test_promotion_killed_at_the_alias_write_keeps_the_previous_champion(tmp_path: Path) -> None:
    artifact_root = tmp_path / "artifacts"

    # The first promotion goes through; the second dies with the new history read but not yet written.
    returncode, reached = kill_promotion_at(artifact_root, ALIAS_PROMOTION, skip=1)

    history = champion_history(LocalArtifactStore(artifact_root))
    assert (returncode, reached) == (-signal.SIGKILL, ALIAS_PROMOTION)
    assert [record.info["seed"] for record in history] == [0]
    assert champion_problem(artifact_root) is None
