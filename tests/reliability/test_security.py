"""Security: nothing read or written outside the data roots, no secret in what the UI shows, no pickle loads."""

import io
import json
import os
import pickle
import re
from pathlib import Path

import dagster as dg
import pytest
import torch
from pydantic import ValidationError
from safetensors import SafetensorError

from cvops.datagen import write_dataset
from cvops.ingest import IngestState, Quarantine, Rejection, RejectReason, scan_landing
from cvops.labels.sources import parse_coco_labels, parse_csv_labels, parse_label_studio_export
from cvops.labels.table import validate_labels
from cvops.model.network import SurfaceClassifier
from cvops.model.weights import load_weights_file
from cvops.storage.artifacts import ArtifactRef, LocalArtifactStore
from cvops_assets.dataset.snapshot import dataset_snapshot
from cvops_assets.definitions import build_resources
from cvops_assets.ingest.raw_images import raw_images
from resources.landing import LandingResource
from resources.version_store import LakeFSVersionStoreResource
from tests.cvops.storage.lakefs_standin import STANDIN_ACCESS_KEY_ID, STANDIN_SECRET, LakeFSStandIn

REPO = Path(__file__).resolve().parents[2]
TRAVERSALS = [
    "../outside.png",
    "ok/../../outside.png",
    "/etc/passwd",
    "C:/Windows/win.ini",
    "C:outside.png",
    "..\\outside.png",
    "ok\\..\\..\\outside.png",
    "ok/./img.png",
    "ok//img.png",
    "ok/img\x00.png",
]


def _outside_dataset(raw, source_name: str) -> list[str]:
    validated = validate_labels(raw, source_name=source_name, strict=False, max_examples=100)
    flagged = [row["source_path"] for row in validated.issues.examples["path_outside_dataset"]]
    assert set(validated.table["image_key"]) == {"ok/img_1"}
    return flagged


def test_csv_label_paths_cannot_leave_the_dataset(tmp_path: Path) -> None:
    csv_path = tmp_path / "labels.csv"
    lines = ["path,label", "ok/img_1.png,ok", *(f'"{path}",ok' for path in TRAVERSALS)]
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    assert sorted(_outside_dataset(parse_csv_labels(csv_path), "labels.csv")) == sorted(TRAVERSALS)


def test_coco_file_names_cannot_leave_the_dataset(tmp_path: Path) -> None:
    images = [{"id": 0, "file_name": "ok/img_1.png"}] + [
        {"id": index, "file_name": path} for index, path in enumerate(TRAVERSALS, start=1)
    ]
    document = {
        "images": images,
        "categories": [{"id": 1, "name": "ok"}],
        "annotations": [{"id": i, "image_id": i, "category_id": 1} for i in range(len(images))],
    }
    coco_path = tmp_path / "coco.json"
    coco_path.write_text(json.dumps(document))

    assert sorted(_outside_dataset(parse_coco_labels(coco_path), "coco.json")) == sorted(TRAVERSALS)


def test_label_studio_urls_and_keys_cannot_leave_the_dataset(tmp_path: Path) -> None:
    choice = [{"result": [{"type": "choices", "value": {"choices": ["ok"]}}]}]
    urls = [
        "/data/local-files/?d=dataset/..%2F..%2Fetc%2Fpasswd",
        "/data/local-files/?d=dataset%2F..%2Foutside.png",
        "/data/local-files/?d=dataset/%2Fetc%2Fpasswd",
        "/data/local-files/?d=dataset/..%5Coutside.png",
        "dataset/../outside.png",
    ]
    tasks = [{"id": 0, "data": {"image": "/data/local-files/?d=dataset/ok/img_1.png"}, "annotations": choice}]
    tasks += [{"id": i, "data": {"image": url}, "annotations": choice} for i, url in enumerate(urls, start=1)]
    tasks.append(
        {"id": 99, "data": {"image": "x.png", "image_key": "../../etc/passwd"}, "annotations": choice}
    )
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))

    raw = parse_label_studio_export(export, strip_prefix="dataset/")
    validated = validate_labels(raw, source_name="export.json", strict=False)

    assert list(validated.table["image_key"]) == ["ok/img_1"]
    assert validated.issues.counts["path_outside_dataset"] == len(urls) + 1


def test_url_encoding_in_csv_is_a_literal_name_inside_the_dataset(tmp_path: Path) -> None:
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("path,label\n%2e%2e/%2e%2e/etc/passwd.png,ok\n", encoding="utf-8")

    table = validate_labels(parse_csv_labels(csv_path), source_name="labels.csv", strict=False).table

    assert list(table["image_key"]) == ["%2e%2e/%2e%2e/etc/passwd"]


def test_symlinks_out_of_the_landing_folder_are_rejected_outside_root(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_dataset(landing, 4, layout="imagefolder", size=16, seed=0)
    secret_dir = tmp_path / "private"
    write_dataset(secret_dir, 4, layout="imagefolder", size=16, seed=1)
    secret_file = next(secret_dir.rglob("*.png"))
    (landing / "ok" / "link.png").symlink_to(secret_file)
    (landing / "linked_folder").symlink_to(secret_dir, target_is_directory=True)
    (landing / "dangling.png").symlink_to(tmp_path / "nowhere.png")

    plan = scan_landing(landing, IngestState(tmp_path / "state.sqlite"))

    rejected = {r.file.relpath: r.rejection.reason for r in plan.rejections}
    assert rejected == {
        "ok/link.png": RejectReason.OUTSIDE_ROOT,
        "linked_folder": RejectReason.OUTSIDE_ROOT,
        "dangling.png": RejectReason.OUTSIDE_ROOT,
    }
    assert all(f.path.resolve().is_relative_to(landing.resolve()) for f in plan.to_validate)
    assert len(plan.to_validate) == 4


@pytest.mark.parametrize(
    ("sha256", "suffix"),
    [
        ("a" * 64, "/../../x"),
        ("a" * 64, "/x"),
        ("a" * 64, ".json/../../x"),
        ("a" * 64, "..json"),
        ("../../../../etc/passwd" + "a" * 42, ".json"),
        ("A" * 64, ".json"),
        ("a" * 63, ".json"),
    ],
)
def test_crafted_artifact_refs_are_refused(sha256: str, suffix: str) -> None:
    with pytest.raises(ValidationError):
        ArtifactRef(sha256=sha256, suffix=suffix, size_bytes=1)
    with pytest.raises(ValidationError):
        ArtifactRef.model_validate_json(json.dumps({"sha256": sha256, "suffix": suffix, "size_bytes": 1}))


def test_real_suffixes_stay_valid_and_inside_the_store(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    for suffix in ("", ".json", ".modelref.json", ".safetensors", ".onnx_data", ".tar-gz"):
        ref = store.put_bytes(suffix.encode() + b"payload", suffix)
        assert store.path_of(ref).resolve().is_relative_to((tmp_path / "artifacts").resolve())


def test_quarantine_copy_names_stay_in_the_quarantine(tmp_path: Path) -> None:
    source = tmp_path / "bad.png"
    source.write_bytes(b"junk")
    quarantine = Quarantine(tmp_path / "quarantine")
    for relpath in ("../../escape.png", "/etc/passwd", "ok/..", "a/b/../../../c.png", "..\\..\\x.png"):
        record = quarantine.add(source, Rejection(relpath, RejectReason.CORRUPT, "test", "f" * 64))
        assert record.copy_path is not None
        assert record.copy_path.resolve().parent == (tmp_path / "quarantine").resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.png", "quarantine"]


def _everything_the_instance_holds(instance: dg.DagsterInstance, run_id: str) -> str:
    records = instance.get_records_for_run(run_id, limit=100_000).records
    events = [dg.serialize_value(record.event_log_entry) for record in records]
    run = instance.get_run_by_id(run_id)
    files = [
        path.read_bytes().decode("utf-8", "replace")
        for path in Path(instance.root_directory).rglob("*")
        if path.is_file()
    ]
    return "\n".join([*events, json.dumps(run.run_config, default=str), dg.serialize_value(run), *files])


@pytest.mark.parametrize("secret", [STANDIN_SECRET, "wrong-secret-Zq8vN3xK0pL7"])
def test_lakefs_secret_is_absent_from_events_run_config_and_logs(
    secret: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """With the right secret the run succeeds; with a wrong one it fails in lakeFS. Neither leaks it."""
    monkeypatch.setenv("LAKEFS_SECRET_ACCESS_KEY", secret)
    landing = tmp_path / "landing"
    write_dataset(landing, 6, layout="imagefolder", size=16, seed=0)
    with LakeFSStandIn(STANDIN_ACCESS_KEY_ID, STANDIN_SECRET) as server, dg.instance_for_test() as instance:
        version_store = LakeFSVersionStoreResource(
            endpoint=server.url,
            access_key_id=STANDIN_ACCESS_KEY_ID,
            secret_access_key=dg.EnvVar("LAKEFS_SECRET_ACCESS_KEY"),
            repository="secret-repo",
            storage_namespace="local://standin/secret-repo",
        )
        resources = build_resources(
            version_store=version_store,
            landing=LandingResource(landing_dir=str(landing), production_dir=str(tmp_path / "production")),
        )
        result = dg.materialize(
            [raw_images, dataset_snapshot], resources=resources, instance=instance, raise_on_error=False
        )
        shown = _everything_the_instance_holds(instance, result.run_id)
        stored = server.count_requests("POST", "/objects")

    assert result.success is (secret == STANDIN_SECRET)
    assert secret not in shown
    assert secret not in capfd.readouterr().err
    assert stored == (6 if result.success else 0)


def _malicious_pickle(path: Path) -> Path:
    class Payload:
        def __reduce__(self) -> tuple:
            return (os.system, (f"touch {path.parent / 'pwned'}",))

    buffer = io.BytesIO()
    torch.save({"state_dict": Payload()}, buffer)
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize("name", ["weights.safetensors", "weights.ckpt", "weights.pt"])
def test_pickled_payload_disguised_as_weights_is_refused(name: str, tmp_path: Path) -> None:
    from cvops.model.network import NetworkConfig

    path = _malicious_pickle(tmp_path / name)
    network = SurfaceClassifier(NetworkConfig(num_classes=2, width=4, depth=2, embedding_dim=8))

    with pytest.raises((SafetensorError, pickle.UnpicklingError)):
        load_weights_file(path, network)

    assert not (tmp_path / "pwned").exists()


_UNSAFE_LOAD = re.compile(r"\b(pickle|cPickle|dill|cloudpickle|joblib)\.loads?\(|\bUnpickler\(")
_TORCH_LOAD = re.compile(r"\btorch\.load\(")


def _call_text(text: str, after_open: int) -> str:
    """The argument text of a call whose opening parenthesis ends at `after_open`."""
    depth = 1
    for index in range(after_open, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return text[after_open:index]
    return text[after_open:]


def test_no_unsafe_deserialisation_anywhere_in_the_repository() -> None:
    offenders = []
    for path in REPO.rglob("*.py"):
        if any(
            part.startswith(".") or part in {"build", "cvops.egg-info"}
            for part in path.relative_to(REPO).parts
        ):
            continue
        text = path.read_text(encoding="utf-8")
        for match in _UNSAFE_LOAD.finditer(text):
            offenders.append(f"{path.relative_to(REPO)}: {match.group(0)}")
        for match in _TORCH_LOAD.finditer(text):
            call = _call_text(text, match.end())
            if "weights_only=True" not in call:
                offenders.append(f"{path.relative_to(REPO)}: {call}")
    assert offenders == []
