"""Thin Dagster resource that builds the artifact store; assets call `artifact_store.store()`."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from cvops.paths import cvops_home
from cvops.storage.artifacts import LocalArtifactStore

ARTIFACTS_DIRNAME = "artifacts"


class ArtifactStoreResource(dg.ConfigurableResource):
    """The artifact store of a deployment: `root`, else `$CVOPS_HOME/artifacts`."""

    root: str | None = Field(default=None, description="Folder of the store; default $CVOPS_HOME/artifacts.")

    def store(self) -> LocalArtifactStore:
        return LocalArtifactStore(Path(self.root) if self.root else cvops_home() / ARTIFACTS_DIRNAME)
