"""A trained model in the artifact store: `weights.safetensors` plus a `model.json` sidecar, each stored once.

Weights are safetensors only (no pickle). torch, lightning and safetensors are imported inside the functions,
so the Dagster layer (and `cvops.evaluation.blessing`) can import `ModelRef` cheaply. The sidecar carries everything needed to rebuild and trust the model:
architecture, class order, preprocessing, data lineage, versions, training metrics and the weights' sha256.
"""

import json
import platform
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from cvops.errors import ModelLoadError
from cvops.model.preprocess import Preprocessing
from cvops.storage.artifacts import ArtifactRef, LocalArtifactStore

if TYPE_CHECKING:
    from cvops.model.network import SurfaceClassifier
    from cvops.model.training import TrainedModel

SIDECAR_FORMAT = "cvops-model/1"
WEIGHTS_SUFFIX = ".safetensors"
SIDECAR_SUFFIX = ".json"


class ModelRef(BaseModel, frozen=True):
    """The small, JSON-serialisable handle that assets pass around instead of the model."""

    weights: ArtifactRef
    sidecar: ArtifactRef
    sha256: str
    classes: tuple[str, ...]
    architecture: dict[str, Any]
    preprocessing: dict[str, Any]
    data_commit: str | None
    labels_version: str | None


def build_sidecar(trained: "TrainedModel", code_version: str) -> dict[str, Any]:
    """The `model.json` content for a trained model."""
    import lightning
    import safetensors
    import torch

    return {
        "format": SIDECAR_FORMAT,
        "weights_file": "weights.safetensors",
        "weights_sha256": trained.weights_sha256,
        "architecture": trained.network_config.to_dict(),
        "classes": list(trained.classes),
        "preprocessing": trained.preprocessing.to_dict(),
        "data_commit": trained.lineage.get("data_commit"),
        "labels_version": trained.lineage.get("labels_version"),
        "lineage": trained.lineage,
        "code_version": code_version,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "lightning": lightning.__version__,
            "safetensors": safetensors.__version__,
        },
        "train_config": trained.config.to_dict(),
        "metrics": trained.metrics(),
        "history": [vars(row) for row in trained.history],
        "resumed_from_epoch": trained.resumed_from_epoch,
    }


def save_model(store: LocalArtifactStore, trained: "TrainedModel", *, code_version: str) -> ModelRef:
    """Store the weights and the sidecar (content-addressed, so identical weights are stored once)."""
    weights = store.put_file(trained.weights_path, WEIGHTS_SUFFIX)
    sidecar_text = json.dumps(build_sidecar(trained, code_version), indent=1, sort_keys=True)
    sidecar_ref = store.put_bytes(sidecar_text.encode(), SIDECAR_SUFFIX)
    # Read back from JSON so the ref equals itself after a JSON round trip (tuples become lists).
    sidecar = json.loads(sidecar_text)
    return ModelRef(
        weights=weights,
        sidecar=sidecar_ref,
        sha256=weights.sha256,
        classes=trained.classes,
        architecture=sidecar["architecture"],
        preprocessing=sidecar["preprocessing"],
        data_commit=sidecar["data_commit"],
        labels_version=sidecar["labels_version"],
    )


def load_model(store: LocalArtifactStore, ref: ModelRef) -> tuple["SurfaceClassifier", dict[str, Any]]:
    """Rebuild the network from safetensors (verified against both sha256s) in eval mode, with its sidecar."""
    from safetensors.torch import load as load_safetensors

    from cvops.model.network import NetworkConfig, SurfaceClassifier

    sidecar = json.loads(store.read_bytes(ref.sidecar))
    if sidecar.get("weights_sha256") != ref.weights.sha256:
        raise ModelLoadError(
            f"Sidecar {ref.sidecar.uri} names weights {sidecar.get('weights_sha256')} but the ref points at "
            f"{ref.weights.uri}: the ref was assembled by hand; re-run save_model."
        )
    network = SurfaceClassifier(NetworkConfig(**sidecar["architecture"]))
    state_dict = load_safetensors(store.read_bytes(ref.weights))
    try:
        network.load_state_dict(state_dict)
    except RuntimeError as error:
        raise ModelLoadError(
            f"Weights {ref.weights.uri} do not fit the architecture in {ref.sidecar.uri} ({error}): the sidecar "
            "and weights come from different runs; re-run save_model."
        ) from error
    return network.eval(), sidecar


def preprocessing_of(ref: ModelRef) -> Preprocessing:
    """The preprocessing the model was trained with (reuse it everywhere: export, drift, serving)."""
    return Preprocessing.from_dict(ref.preprocessing)
