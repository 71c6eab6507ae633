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
    bad_files,
    expected_main,
    ingest_problems,
    kill_ingest_at,
    make_landing,
    wap_ingest,
)

from cvops.faults import (
    ARTIFACT_PUBLISH,
    SNAPSHOT_AFTER_MERGE,
    VERSION_STORE_COMMIT,
    VERSION_STORE_MERGE,
)
from cvops.storage import VersionStore
from tests.cvops.storage.lakefs_standin import LakeFSStandIn

NUM_IMAGES = 30
OLD_MAIN = "old main"
PUBLISHED = "published"
LAKEFS = "lakefs-standin"
# In the order ingest_job reaches them, with what main must hold once the run is killed there.
KILL_POINTS = [
    (VERSION_STORE_COMMIT, OLD_MAIN),  # raw_images commits its ingest branch
    (ARTIFACT_PUBLISH, OLD_MAIN),  # raw_images stores its ingest report
    (VERSION_STORE_MERGE, OLD_MAIN),  # dataset_snapshot merges the audited branch
    (SNAPSHOT_AFTER_MERGE, PUBLISHED),  # merged; the ingest state does not record it yet
]


@pytest.fixture(params=["local", LAKEFS])
def area(request: pytest.FixtureRequest, tmp_path: Path) -> IngestArea:
    server: LakeFSStandIn | None = (
        request.getfixturevalue("lakefs_standin") if request.param == LAKEFS else None
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
    # make_landing adds two copies of generated images and one file per kind of bad input.
    counts = (outcomes.count("ingested"), outcomes.count("duplicate"), outcomes.count("rejected"))
    assert counts == (NUM_IMAGES, 2, len(bad_files()))
    published_head = store.resolve(MAIN)
    assert wap_ingest(area, "nothing-new") is True
    assert store.resolve(MAIN) == published_head
