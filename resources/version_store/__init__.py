"""Dataset versioning: one `VersionStore` protocol, an embedded SQLite backend and a lakeFS backend.

`LakeFSVersionStore` imports the `lakefs` SDK only when first used, so importing this package stays cheap.
"""

from resources.version_store.base import (
    DEFAULT_BRANCH,
    Change,
    CommitInfo,
    ObjectInfo,
    VersionStore,
    validate_ref_name,
)
from resources.version_store.lakefs import LakeFSVersionStore
from resources.version_store.local import LocalVersionStore
from resources.version_store.resource import (
    LakeFSVersionStoreResource,
    LocalVersionStoreResource,
    VersionStoreResource,
)

__all__ = [
    "DEFAULT_BRANCH",
    "Change",
    "CommitInfo",
    "LakeFSVersionStore",
    "LakeFSVersionStoreResource",
    "LocalVersionStore",
    "LocalVersionStoreResource",
    "ObjectInfo",
    "VersionStore",
    "VersionStoreResource",
    "validate_ref_name",
]
