"""Hot switch: publishing a new champion export while requests run drops none of them."""

import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from serving_testkit import png_bytes, running_service

from cvops.export.predictor import Predictor
from cvops.serving.config import CHAMPION_EXPORT_ALIAS, ServingConfig
from cvops.storage.artifacts import LocalArtifactStore

SWITCH_TIMEOUT_S = 20.0
WORKERS = 3


class LoadRunner:
    """Threads posting images until stopped, recording (status, model_version, time) of every answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.results: list[tuple[int, str | None, float]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(index,)) for index in range(WORKERS)]

    def __enter__(self) -> "LoadRunner":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, worker: int) -> None:
        image = png_bytes(seed=worker)
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                try:
                    response = client.post("/predict", content=image, headers={"Content-Type": "image/png"})
                    version = response.json().get("model_version") if response.status_code == 200 else None
                    with self._lock:
                        self.results.append((response.status_code, version, time.monotonic()))
                except httpx.HTTPError as error:
                    with self._lock:
                        self.errors.append(repr(error))

    def wait_for_version(self, version: str) -> None:
        deadline = time.monotonic() + SWITCH_TIMEOUT_S
        while time.monotonic() < deadline:
            with self._lock:
                if any(item[1] == version for item in self.results[-WORKERS:]):
                    return
            time.sleep(0.05)
        raise AssertionError(f"The service never answered with version {version}")

    def count(self) -> int:
        with self._lock:
            return len(self.results)


def _assert_clean_switch(load: LoadRunner, old: str, new: str) -> None:
    assert load.errors == []
    assert Counter(status for status, _, _ in load.results) == Counter({200: len(load.results)})
    versions = [version for _, version, _ in load.results]
    first_new = versions.index(new)
    assert set(versions) == {old, new}
    assert versions[:first_new].count(old) == first_new
    # Requests already running on the old model may finish after the first new answer, not long after.
    assert versions[first_new + WORKERS :].count(old) == 0


def test_publishing_a_new_champion_alias_switches_without_failed_requests(
    make_config: Callable[..., ServingConfig], exports: dict[str, Path], tmp_path: Path
) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    old_ref = store.put_file(exports["always_crack"], ".onnx")
    store.set_alias(CHAMPION_EXPORT_ALIAS, old_ref, {"model_version": "v1"})
    old = Predictor.from_onnx(exports["always_crack"]).model_version
    new = Predictor.from_onnx(exports["always_dent"]).model_version
    config = make_config(champion_path=None, artifact_root=store.root)
    with running_service(config) as url, LoadRunner(url) as load:
        while load.count() < 20:
            time.sleep(0.02)
        new_ref = store.put_file(exports["always_dent"], ".onnx")
        store.set_alias(CHAMPION_EXPORT_ALIAS, new_ref, {"model_version": "v2"})
        load.wait_for_version(new)
        target = load.count() + 20
        while load.count() < target:
            time.sleep(0.02)
        health = httpx.get(f"{url}/healthz").json()
    _assert_clean_switch(load, old, new)
    assert health["models"]["champion"]["version"] == new
    assert health["models"]["champion"]["path"] == str(store.path_of(new_ref))


def test_replacing_the_champion_file_switches_and_a_broken_file_keeps_the_old_model(
    make_config: Callable[..., ServingConfig], exports: dict[str, Path], tmp_path: Path
) -> None:
    served = tmp_path / "served" / "champion.onnx"
    served.parent.mkdir()
    shutil.copyfile(exports["always_crack"], served)
    old = Predictor.from_onnx(exports["always_crack"]).model_version
    new = Predictor.from_onnx(exports["always_dent"]).model_version
    with running_service(make_config(champion_path=served)) as url, LoadRunner(url) as load:
        while load.count() < 10:
            time.sleep(0.02)
        (served.parent / "broken.onnx").write_bytes(b"not an onnx file")
        os.replace(served.parent / "broken.onnx", served)
        time.sleep(0.5)
        assert httpx.get(f"{url}/healthz").json()["models"]["champion"]["version"] == old
        shutil.copyfile(exports["always_dent"], served.parent / "next.onnx")
        os.replace(served.parent / "next.onnx", served)
        load.wait_for_version(new)
        metrics = httpx.get(f"{url}/metrics").text
    _assert_clean_switch(load, old, new)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
    }
    assert samples[("cvops_model_switches_total", (("model", "champion"),))] == 2.0
    assert samples[("cvops_model_load_failures_total", (("model", "champion"),))] == 1.0
    new_sha = Predictor.from_onnx(exports["always_dent"]).model_sha256
    info = (("model", "champion"), ("sha256", new_sha), ("version", new))
    assert samples[("cvops_model_info", info)] == 1.0
