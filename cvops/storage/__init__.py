"""The pure stores: the version store protocol with its embedded and lakeFS backends, and the artifact store.

Nothing here imports Dagster; `resources/` wraps these in thin `ConfigurableResource`s.
`LakeFSVersionStore` imports the `lakefs` SDK only when first used, so importing this package stays cheap.
"""

from cvops.storage.artifacts import AliasRecord, ArtifactRef, LocalArtifactStore
from cvops.storage.base import (
    DEFAULT_BRANCH,
    Change,
    CommitInfo,
    ObjectInfo,
    VersionStore,
    validate_ref_name,
)
from cvops.storage.lakefs import LakeFSVersionStore
from cvops.storage.local import LocalVersionStore

__all__ = [
    "DEFAULT_BRANCH",
    "AliasRecord",
    "ArtifactRef",
    "Change",
    "CommitInfo",
    "LakeFSVersionStore",
    "LocalArtifactStore",
    "LocalVersionStore",
    "ObjectInfo",
    "VersionStore",
    "validate_ref_name",
]
