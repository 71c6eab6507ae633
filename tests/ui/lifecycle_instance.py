"""Run `lifecycle_job` once against `DagsterInstance.get()`: the instance the UI tests browse.

Run as a script with DAGSTER_HOME, CVOPS_HOME and CVOPS_LANDING set; exits non-zero if the run fails.
"""

import sys
from dataclasses import dataclass
from typing import Any

import dagster as dg

from cvops.datagen import SURFACE_FLIPS
from cvops_assets.constants import LIFECYCLE_JOB, TRAINED_MODEL
from cvops_assets.definitions import defs


@dataclass(frozen=True)
class LifecycleInstance:
    """Where the lifecycle ran, and what its materializations recorded."""

    env: dict[str, str]
    data_commit: str
    model_metadata: dict[str, Any]
    report_metadata: dict[str, Any]


def main() -> int:
    with dg.DagsterInstance.get() as instance:
        result = (
            defs()
            .resolve_job_def(LIFECYCLE_JOB)
            .execute_in_process(
                run_config={"ops": {TRAINED_MODEL: {"config": SURFACE_FLIPS}}},
                instance=instance,
                raise_on_error=False,
            )
        )
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
