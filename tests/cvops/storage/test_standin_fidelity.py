"""The stand-in answers as lakeFS does where it used to be kinder, checked over plain HTTP.

Each behaviour follows the lakeFS server code (treeverse/lakeFS): merge metadata in pkg/graveler/graveler.go
(`Merge`), "no changes" by entry identity in pkg/graveler/committed/commit.go and
pkg/graveler/uncommitted_diff_iterator.go (identity from pkg/catalog/entry.go), storage namespace checks in
pkg/api/controller.go (`CreateRepository`), repository listing in pkg/catalog/catalog.go (`ListRepositories`)
and the commit log's `amount`/`limit`/`after` in pkg/catalog/catalog.go (`ListCommits`).
"""

import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
import urllib3

from cvops.errors import NothingToCommitError, VersionStoreError
from cvops.storage import LakeFSVersionStore
from tests.cvops.storage.lakefs_standin import (
    API_PREFIX,
    STANDIN_ACCESS_KEY_ID,
    STANDIN_SECRET,
    LakeFSStandIn,
)

REPO = "demo-repo"
NAMESPACE = "local://standin/demo-repo"


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


class Api:
    """Plain HTTP calls to the stand-in with Basic auth; JSON bodies are decoded."""

    def __init__(self, standin: LakeFSStandIn) -> None:
        self._base = standin.url + API_PREFIX
        credentials = base64.b64encode(f"{STANDIN_ACCESS_KEY_ID}:{STANDIN_SECRET}".encode()).decode()
        self._auth = {"Authorization": f"Basic {credentials}"}
        self._http = urllib3.PoolManager()

    def call(
        self,
        method: str,
        path: str,
        json_body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        url = self._base + path
        if query:
            url += "?" + urlencode(query)
        response = self._http.request(
            method,
            url,
            body=data if json_body is None else json.dumps(json_body).encode(),
            headers={**self._auth, "Content-Type": "application/json", **(headers or {})},
        )
        is_json = response.headers.get("Content-Type") == "application/json" and response.data
        return Answer(response.status, json.loads(response.data) if is_json else response.data)

    def create_repository(self, name: str = REPO, namespace: str = NAMESPACE) -> Answer:
        return self.call("POST", "/repositories", {"name": name, "storage_namespace": namespace})

    def upload(self, branch: str, path: str, data: bytes, metadata: dict[str, str] | None = None) -> Answer:
        headers = {f"x-lakefs-meta-{key}": value for key, value in (metadata or {}).items()}
        headers["Content-Type"] = "application/octet-stream"
        return self.call(
            "POST",
            f"/repositories/{REPO}/branches/{branch}/objects",
            query={"path": path},
            data=data,
            headers=headers,
        )

    def commit(self, branch: str, message: str) -> Answer:
        return self.call("POST", f"/repositories/{REPO}/branches/{branch}/commits", {"message": message})

    def create_branch(self, name: str, source: str) -> Answer:
        return self.call("POST", f"/repositories/{REPO}/branches", {"name": name, "source": source})

    def merge(self, source: str, destination: str, **request: Any) -> Answer:
        return self.call("POST", f"/repositories/{REPO}/refs/{source}/merge/{destination}", request)

    def get_commit(self, ref: str) -> Answer:
        return self.call("GET", f"/repositories/{REPO}/commits/{ref}")


@pytest.fixture
def api(lakefs_standin: LakeFSStandIn) -> Api:
    """HTTP access to a stand-in holding `demo-repo` (branch main with its initial commit)."""
    api = Api(lakefs_standin)
    assert api.create_repository().status == 201
    return api


def _committed_branch(api: Api, name: str, files: dict[str, bytes]) -> str:
    """Branch `name` off main with `files` committed on it; its head commit id."""
    assert api.create_branch(name, "main").status == 201
    for path, data in files.items():
        assert api.upload(name, path, data).status == 201
    answer = api.commit(name, f"on {name}")
    assert answer.status == 201
    return answer.body["id"]


# ---- 1. merge commits record the merge strategy


def test_merge_commit_metadata_adds_the_default_strategy(api: Api) -> None:
    _committed_branch(api, "dev", {"a": b"a"})

    merged = api.merge("dev", "main", message="publish", metadata={"run_id": "run1"})

    assert merged.status == 200
    commit = api.get_commit(merged.body["reference"]).body
    assert commit["metadata"] == {"run_id": "run1", ".lakefs.merge.strategy": "default"}


def test_merge_with_a_strategy_resolves_conflicts_and_records_its_name(api: Api) -> None:
    assert api.upload("main", "labels.csv", b"v0").status == 201
    assert api.commit("main", "base").status == 201
    _committed_branch(api, "dev", {"labels.csv": b"dev edit"})
    assert api.upload("main", "labels.csv", b"main edit").status == 201
    assert api.commit("main", "main edit").status == 201

    assert api.merge("dev", "main").status == 409
    merged = api.merge("dev", "main", strategy="source-wins")

    assert merged.status == 200
    assert api.get_commit("main").body["metadata"] == {".lakefs.merge.strategy": "source-wins"}
    read = api.call("GET", f"/repositories/{REPO}/refs/main/objects", query={"path": "labels.csv"})
    assert read.body == b"dev edit"


def test_merge_with_an_unknown_strategy_is_refused(api: Api) -> None:
    _committed_branch(api, "dev", {"a": b"a"})

    refused = api.merge("dev", "main", strategy="ours")

    assert refused == Answer(400, {"message": "update branch main: invalid merge strategy"})


def test_backend_hides_the_strategy_key_it_cannot_have_written(
    lakefs_standin: LakeFSStandIn, api: Api
) -> None:
    store = LakeFSVersionStore(lakefs_standin.url, STANDIN_ACCESS_KEY_ID, STANDIN_SECRET, REPO, NAMESPACE)
    _committed_branch(api, "dev", {"a": b"a"})

    store.merge("dev", "main", metadata={"run_id": "run1"})

    assert api.get_commit("main").body["metadata"][".lakefs.merge.strategy"] == "default"
    assert store.log("main", limit=1)[0].metadata == {"run_id": "run1"}


# ---- 2. "no changes" is judged on content


def _uncommitted(api: Api, branch: str = "main") -> list[dict[str, Any]]:
    answer = api.call("GET", f"/repositories/{REPO}/branches/{branch}/diff")
    assert answer.status == 200
    return answer.body["results"]


def test_identical_reupload_is_no_change(api: Api) -> None:
    assert api.upload("main", "x.bin", b"same bytes").status == 201
    assert api.commit("main", "add x").status == 201

    assert api.upload("main", "x.bin", b"same bytes").status == 201

    assert _uncommitted(api) == []
    assert api.commit("main", "again") == Answer(400, {"message": "commit: no changes"})


def test_writing_back_the_committed_bytes_undoes_the_change(api: Api) -> None:
    assert api.upload("main", "x.bin", b"one").status == 201
    assert api.commit("main", "add x").status == 201
    assert api.upload("main", "x.bin", b"two").status == 201
    assert [change["type"] for change in _uncommitted(api)] == ["changed"]

    assert api.upload("main", "x.bin", b"one").status == 201

    assert _uncommitted(api) == []
    assert api.commit("main", "back to one") == Answer(400, {"message": "commit: no changes"})


def test_same_bytes_with_other_user_metadata_are_a_change(api: Api) -> None:
    assert api.upload("main", "x.bin", b"same", metadata={"sha256": "a"}).status == 201
    assert api.commit("main", "add x").status == 201

    assert api.upload("main", "x.bin", b"same", metadata={"sha256": "b"}).status == 201

    assert [change["type"] for change in _uncommitted(api)] == ["changed"]
    assert api.commit("main", "new metadata").status == 201


def test_identical_reuploads_leave_a_merge_destination_clean(api: Api) -> None:
    assert api.upload("main", "x.bin", b"same").status == 201
    assert api.commit("main", "add x").status == 201
    _committed_branch(api, "dev", {"y.bin": b"y"})
    assert api.upload("main", "x.bin", b"same").status == 201

    assert api.merge("dev", "main").status == 200
    assert api.upload("main", "x.bin", b"different").status == 201
    assert api.merge("dev", "main") == Answer(400, {"message": "uncommitted changes (dirty branch)"})


def test_backend_sees_no_change_after_an_identical_upload_reaches_the_server(
    lakefs_standin: LakeFSStandIn, api: Api
) -> None:
    store = LakeFSVersionStore(lakefs_standin.url, STANDIN_ACCESS_KEY_ID, STANDIN_SECRET, REPO, NAMESPACE)
    info = store.upload("main", "x.bin", b"same bytes")
    store.commit("main", "add x")

    # Another writer sends the same bytes and metadata; the backend's own upload would have skipped them.
    assert api.upload("main", "x.bin", b"same bytes", metadata={"sha256": info.sha256}).status == 201

    assert not store.has_uncommitted_changes("main")
    with pytest.raises(NothingToCommitError, match="main"):
        store.commit("main", "again")


# ---- 3. repository creation validates the storage namespace


def test_namespace_of_another_blockstore_is_refused(lakefs_standin: LakeFSStandIn) -> None:
    api = Api(lakefs_standin)

    refused = api.create_repository(namespace="s3://bucket/demo-repo")

    assert refused == Answer(400, {"message": "failed to match required regex ^local://: invalid namespace"})
    assert api.call("GET", f"/repositories/{REPO}").status == 404


def test_namespace_in_use_is_refused(api: Api) -> None:
    refused = api.create_repository(name="other-repo", namespace=NAMESPACE + "/")

    assert refused == Answer(
        400,
        {
            "message": f"failed to create repository: found lakeFS objects in the storage (:{NAMESPACE}/) "
            "key(_lakefs/dummy): storage namespace already in use"
        },
    )
    assert api.create_repository(name="other-repo", namespace=NAMESPACE + "-other").status == 201


def test_existing_repository_is_a_conflict_before_its_namespace_is_checked(api: Api) -> None:
    assert api.create_repository() == Answer(409, {"message": "error creating repository: not unique"})


@pytest.mark.parametrize(
    ("namespace", "reason"),
    [("s3://bucket/cvops", "invalid namespace"), (NAMESPACE, "storage namespace already in use")],
)
def test_backend_names_the_refused_namespace(
    lakefs_standin: LakeFSStandIn, namespace: str, reason: str
) -> None:
    assert Api(lakefs_standin).create_repository().status == 201
    store = LakeFSVersionStore(
        lakefs_standin.url, STANDIN_ACCESS_KEY_ID, STANDIN_SECRET, "cvops-data", namespace
    )

    with pytest.raises(
        VersionStoreError, match=rf"storage namespace '{re.escape(namespace)}' \(HTTP 400: .*{reason}\)"
    ):
        store.ensure_repository()


# ---- 4. repositories are listed, page by page


def test_repositories_list_in_pages(lakefs_standin: LakeFSStandIn) -> None:
    api = Api(lakefs_standin)
    for name in ("repo-c", "repo-a", "other-b"):
        assert api.create_repository(name, f"local://standin/{name}").status == 201

    first = api.call("GET", "/repositories", query={"amount": "2"})
    second = api.call(
        "GET", "/repositories", query={"amount": "2", "after": first.body["pagination"]["next_offset"]}
    )

    assert first.status == 200
    assert [repo["id"] for repo in first.body["results"]] == ["other-b", "repo-a"]
    assert first.body["pagination"] == {
        "has_more": True,
        "next_offset": "repo-a",
        "results": 2,
        "max_per_page": 1000,
    }
    assert second.body == {
        "pagination": {"has_more": False, "next_offset": "", "results": 1, "max_per_page": 1000},
        "results": [
            {
                "id": "repo-c",
                "creation_date": second.body["results"][0]["creation_date"],
                "default_branch": "main",
                "storage_namespace": "local://standin/repo-c",
                "storage_id": "",
                "read_only": False,
            }
        ],
    }
    by_prefix = api.call("GET", "/repositories", query={"prefix": "repo-", "search": "c"})
    assert [repo["id"] for repo in by_prefix.body["results"]] == ["repo-c"]


def test_the_sdk_lists_every_repository(lakefs_standin: LakeFSStandIn) -> None:
    import lakefs

    api = Api(lakefs_standin)
    names = [f"repo-{index:03d}" for index in range(105)]
    for name in names:
        assert api.create_repository(name, f"local://standin/{name}").status == 201
    client = lakefs.Client(host=lakefs_standin.url, username=STANDIN_ACCESS_KEY_ID, password=STANDIN_SECRET)

    assert [repo.id for repo in lakefs.repositories(client)] == names


# ---- 5. the commit log honours amount, limit, after and first_parent


def _commits_on_main(api: Api, count: int) -> list[str]:
    """Commit `count` times on main; the commit ids newest first, the initial commit last."""
    ids = [api.get_commit("main").body["id"]]
    for index in range(count):
        assert api.upload("main", "f", b"%d" % index).status == 201
        ids.insert(0, api.commit("main", f"commit {index}").body["id"])
    return ids


def _log(api: Api, **query: str) -> Answer:
    return api.call("GET", f"/repositories/{REPO}/refs/main/commits", query=query)


def test_log_pages_by_amount_after_the_given_commit(api: Api) -> None:
    ids = _commits_on_main(api, 4)

    first = _log(api, amount="2")
    rest = _log(api, amount="2", after=first.body["pagination"]["next_offset"])
    last = _log(api, amount="2", after=ids[3])

    assert [commit["id"] for commit in first.body["results"]] == ids[:2]
    assert first.body["pagination"] == {
        "has_more": True,
        "next_offset": ids[1],
        "results": 2,
        "max_per_page": 1000,
    }
    assert [commit["id"] for commit in rest.body["results"]] == ids[2:4]
    assert rest.body["pagination"]["has_more"]
    assert [commit["id"] for commit in last.body["results"]] == ids[4:]
    assert last.body["pagination"] == {
        "has_more": False,
        "next_offset": "",
        "results": 1,
        "max_per_page": 1000,
    }


def test_log_with_limit_stops_at_amount_without_has_more(api: Api) -> None:
    ids = _commits_on_main(api, 3)

    limited = _log(api, amount="2", limit="true")

    assert [commit["id"] for commit in limited.body["results"]] == ids[:2]
    assert limited.body["pagination"] == {
        "has_more": False,
        "next_offset": "",
        "results": 2,
        "max_per_page": 1000,
    }


def test_log_amount_is_clamped_as_lakefs_does(api: Api) -> None:
    ids = _commits_on_main(api, 2)

    assert [commit["id"] for commit in _log(api, amount="0").body["results"]] == ids
    assert _log(api, amount="5000").body["pagination"]["max_per_page"] == 1000


def test_log_follows_first_parents_only_when_asked(api: Api) -> None:
    dev_head = _committed_branch(api, "dev", {"d": b"d"})
    merged = api.merge("dev", "main").body["reference"]

    everything = [commit["id"] for commit in _log(api).body["results"]]
    first_parents = [commit["id"] for commit in _log(api, first_parent="true").body["results"]]

    assert everything[:2] == [merged, dev_head]
    assert dev_head not in first_parents
    assert first_parents[0] == merged


def test_log_filters_the_stand_in_lacks_are_refused_not_ignored(api: Api) -> None:
    refused = _log(api, objects="f")

    assert refused == Answer(501, {"message": "the stand-in does not filter the commit log by ['objects']"})
