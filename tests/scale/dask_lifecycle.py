"""The lifecycle job on Dagster's dask executor, importable by module path so Dask workers can rebuild it.

The dask executor ships a `ReconstructableJob` to every worker, which re-imports this module and calls
`dask_lifecycle_job()`. Resources are the default local deployment: every root comes from `CVOPS_HOME` and
`CVOPS_LANDING` read at run time, which the workers inherit from the process that starts the cluster.
"""

import dagster as dg
from dagster_dask import dask_executor

from cvops_assets.constants import LIFECYCLE_JOB
from cvops_assets.definitions import build_definitions, build_resources


def dask_lifecycle_job() -> dg.JobDefinition:
    """`lifecycle_job` resolved from the CVOps definitions with `dask_executor` as the executor."""
    defs = dg.Definitions.merge(build_definitions(build_resources()), dg.Definitions(executor=dask_executor))
    return defs.resolve_job_def(LIFECYCLE_JOB)
