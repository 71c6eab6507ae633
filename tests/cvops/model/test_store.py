"""Models are stored once as safetensors + sidecar, load back bit-identical, and never go through pickle."""

import json
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from cvops.errors import ModelLoadError
from cvops.io_utils import sha256_bytes
from cvops.model.inference import predict_logits, predict_proba
from cvops.model.network import NetworkConfig, SurfaceClassifier
from cvops.model.store import ModelRef, load_model, preprocessing_of, save_model
from cvops.model.training import TrainedModel, train
from cvops.model.weights import load_weights_file
from cvops.storage.artifacts import LocalArtifactStore

CLASSES = ("ok", "scratch", "spot", "crack")
LINEAGE = {"data_commit": "c0ffee", "labels_version": "v1"}


@pytest.fixture
def trained(splits, tiny_config, tmp_path: Path) -> TrainedModel:
    return train(tiny_config, splits, CLASSES, tmp_path / "ckpt", LINEAGE)


def test_round_trip_keeps_weights_and_predictions(trained: TrainedModel, splits, tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    ref = save_model(store, trained, code_version="abc123")
    model, sidecar = load_model(store, ref)

    assert ref.sha256 == ref.weights.sha256 == trained.weights_sha256 == sidecar["weights_sha256"]
    assert sha256_bytes(store.read_bytes(ref.weights)) == trained.weights_sha256
    assert ref.classes == CLASSES and sidecar["classes"] == list(CLASSES)
    assert (ref.data_commit, ref.labels_version, sidecar["code_version"]) == ("c0ffee", "v1", "abc123")
    assert sidecar["architecture"] == {"num_classes": 4, "width": 4, "depth": 2, "embedding_dim": 8}
    assert sidecar["versions"]["torch"] == torch.__version__
    assert [row["epoch"] for row in sidecar["history"]] == [0, 1]
    assert sidecar["metrics"]["val_accuracy"] == trained.best.val_accuracy
    assert not model.training

    original = load_file(trained.weights_path)
    assert all(model.state_dict()[name].equal(tensor) for name, tensor in original.items())
    test_pixels = splits["test"][0]
    reference = SurfaceClassifier(trained.network_config)
    reference.load_state_dict(original)
    preprocessing = preprocessing_of(ref)
    assert np.array_equal(
        predict_logits(model, preprocessing, test_pixels),
        predict_logits(reference, preprocessing, test_pixels),
    )


def test_identical_weights_are_stored_once(trained: TrainedModel, tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    first = save_model(store, trained, code_version="abc123")
    second = save_model(store, trained, code_version="abc123")
    assert first == second
    stored = sorted(path.name for path in (tmp_path / "artifacts" / "objects").rglob("*") if path.is_file())
    assert stored == sorted([f"{first.weights.sha256}.safetensors", f"{first.sidecar.sha256}.json"])


def test_ref_is_plain_json(trained: TrainedModel, tmp_path: Path) -> None:
    ref = save_model(LocalArtifactStore(tmp_path / "artifacts"), trained, code_version="abc123")
    assert ModelRef.model_validate_json(ref.model_dump_json()) == ref
    assert json.loads(ref.model_dump_json())["weights"]["suffix"] == ".safetensors"


def test_sidecar_naming_other_weights_is_refused(trained: TrainedModel, tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    ref = save_model(store, trained, code_version="abc123")
    other = store.put_bytes(b"not the weights", ".safetensors")
    with pytest.raises(ModelLoadError, match="assembled by hand"):
        load_model(store, ref.model_copy(update={"weights": other}))


def test_predict_proba_rows_sum_to_one_and_batching_is_invisible(trained: TrainedModel, splits) -> None:
    model = SurfaceClassifier(trained.network_config)
    model.load_state_dict(load_file(trained.weights_path))
    pixels = splits["test"][0]
    whole = predict_proba(model, trained.preprocessing, pixels, batch_size=256)
    batched = predict_proba(model, trained.preprocessing, pixels, batch_size=5)
    assert whole.shape == (32, 4) and whole.dtype == np.float32
    np.testing.assert_allclose(whole.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(whole, batched, atol=1e-6)
    assert predict_proba(model, trained.preprocessing, pixels[:0]).shape == (0, 4)
    larger = [
        np.asarray(Image.fromarray(image).resize((32, 32), Image.Resampling.NEAREST)) for image in pixels[:3]
    ]
    resized_back = np.stack([trained.preprocessing.to_pixels(image) for image in larger])
    np.testing.assert_allclose(
        predict_proba(model, trained.preprocessing, larger),
        predict_proba(model, trained.preprocessing, resized_back),
        atol=1e-6,
    )


class _Exploit:
    def __reduce__(self):
        return (Path.touch, (Path("/nonexistent-cvops-pwned"),))


def test_checkpoint_loading_refuses_pickled_code(tmp_path: Path) -> None:
    network = SurfaceClassifier(NetworkConfig(num_classes=4, width=4, depth=2, embedding_dim=8))
    malicious = tmp_path / "evil.pt"
    with open(malicious, "wb") as handle:
        pickle.dump({"state_dict": network.state_dict(), "payload": _Exploit()}, handle, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        load_weights_file(malicious, network)


def test_torch_checkpoint_of_same_architecture_loads(trained: TrainedModel, tmp_path: Path) -> None:
    network = SurfaceClassifier(replace(trained.network_config))
    state_dict = load_weights_file(tmp_path / "ckpt" / "best.ckpt", network)
    assert state_dict.keys() == load_file(trained.weights_path).keys()
