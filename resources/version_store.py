"""Thin Dagster resources that build a `VersionStore`; assets call `version_store.store()`.

Assets type their parameter as the interface `VersionStoreResource`; the deployment picks the backend.
Secrets arrive through `dg.EnvVar` where the definitions are built; the secret field is kept out of `repr`.
"""

from abc import ABC, abstractmethod
from pathlib import Path

import dagster as dg
from pydantic import Field, PrivateAttr

from cvops.paths import cvops_home
from cvops.storage.base import VersionStore
from cvops.storage.lakefs import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, RETRIES, LakeFSVersionStore
from cvops.storage.local import LocalVersionStore

VERSIONS_DIRNAME = "versions"


class VersionStoreResource(dg.ConfigurableResource, ABC):
    """What assets type against: any resource that opens a `VersionStore`."""

    @abstractmethod
    def store(self) -> VersionStore:
        """The store, with its repository created if missing; the same object on every call."""


class LocalVersionStoreResource(VersionStoreResource):
    """The embedded version store under `root` (default `$CVOPS_HOME/versions`)."""

    root: str | None = Field(default=None, description="Folder of the store; default $CVOPS_HOME/versions.")
    repository: str = Field(default="cvops", description="Repository name (the SQLite file's name).")

    _store: LocalVersionStore | None = PrivateAttr(default=None)

    def store(self) -> VersionStore:
        """The store, opened (and created if new) on first use and reused afterwards."""
        if self._store is None:
            root = Path(self.root) if self.root else cvops_home() / VERSIONS_DIRNAME
            store = LocalVersionStore(root, repository=self.repository)
            store.ensure_repository()
            self._store = store
        return self._store


class LakeFSVersionStoreResource(VersionStoreResource):
    """A lakeFS repository; pass the secret as `dg.EnvVar("LAKEFS_SECRET_ACCESS_KEY")`."""

    endpoint: str = Field(description="lakeFS server URL, e.g. http://localhost:8000 (no /api/v1).")
    access_key_id: str = Field(description="lakeFS access key id.")
    secret_access_key: str = Field(repr=False, description="lakeFS secret access key; never logged.")
    repository: str = Field(description="Repository id, e.g. cvops-data.")
    storage_namespace: str = Field(description="Where lakeFS keeps the data, e.g. s3://bucket/cvops-data.")
    connect_timeout_s: float = Field(
        default=CONNECT_TIMEOUT_S, description="Seconds to connect, per attempt."
    )
    read_timeout_s: float = Field(
        default=READ_TIMEOUT_S, description="Seconds to wait for each read of an answer, per attempt."
    )
    retries: int = Field(
        default=RETRIES, description="Repeats after a failed attempt (only where repeating is safe)."
    )

    _store: LakeFSVersionStore | None = PrivateAttr(default=None)

    def store(self) -> VersionStore:
        """The store, with the repository created if missing, reused for the resource's lifetime."""
        if self._store is None:
            store = LakeFSVersionStore(
                endpoint=self.endpoint,
                access_key_id=self.access_key_id,
                secret_access_key=self.secret_access_key,
                repository=self.repository,
                storage_namespace=self.storage_namespace,
                timeout_s=(self.connect_timeout_s, self.read_timeout_s),
                retries=self.retries,
            )
            store.ensure_repository()
            self._store = store
        return self._store
