"""trained_model and validation_report: reproducible training with lineage, evaluation and blessing."""

from collections.abc import Callable
from typing import Literal

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from cvops import __version__ as CODE_VERSION
from cvops.model.augmentations import DEFAULT_AUGMENTATIONS
from cvops.model.store import ModelRef
from cvops.refs import LabelsRef, ReportRef
from cvops.storage.artifacts import LocalArtifactStore
from cvops.viz import png_data_uri_markdown
from cvops_assets.constants import OWNER, TRAINED_MODEL, VALIDATION_REPORT
from cvops_assets.deployment.registry import record_promotion
from cvops_assets.metadata import readable
from cvops_assets.types import ref_type
from resources.artifact_resource import ArtifactStoreResource
from resources.version_store import VersionStoreResource

MODEL_BLESSED = "model_blessed"


class Augmentation(dg.Config):
    """One training-time transform; set only the parameter its `name` takes (the others stay null)."""

    name: Literal[
        "rotate", "translate", "brightness", "contrast", "noise", "hflip", "vflip", "random_resized_crop"
    ] = Field(
        description="rotate (degrees), translate (fraction), brightness (strength), contrast (strength), noise "
        "(std), random_resized_crop (scale); hflip and vflip take no parameter and flip half the images."
    )
    degrees: float | None = Field(
        default=None, description="rotate: largest rotation either way, in degrees (default 10)."
    )
    fraction: float | None = Field(
        default=None,
        description="translate: largest shift along each axis, as a fraction of the side (default 0.1).",
    )
    strength: float | None = Field(
        default=None,
        description="brightness: largest shift of the [0, 1] pixel values; contrast: largest relative change "
        "of the spread around the image mean (default 0.1 for both).",
    )
    std: float | None = Field(
        default=None,
        description="noise: standard deviation of Gaussian noise on [0, 1] pixels (default 0.02).",
    )
    scale: list[float] | None = Field(
        default=None,
        description="random_resized_crop: [smallest, largest] area fraction of the square crop that is stretched "
        "back to the full size (default [0.8, 1.0]).",
    )


class TrainedModelConfig(dg.Config):
    """Every field of `cvops.model.training.TrainConfig`, with the same defaults, plus the champion switch."""

    seed: int = Field(default=0, description="Seeds weights, shuffling and augmentation.")
    epochs: int = Field(default=30, description="Upper bound; early stopping on val_loss may stop sooner.")
    batch_size: int = Field(default=64, description="Images per optimizer step (per device under DDP).")
    learning_rate: float = Field(
        default=1e-2, description="AdamW peak learning rate, reached at the end of the warm-up."
    )
    weight_decay: float = Field(default=1e-4, description="AdamW decoupled weight decay.")
    schedule: Literal["cosine", "onecycle", "constant"] = Field(
        default="cosine",
        description="Learning rate per optimizer step after the linear warm-up: 'cosine' decays to 0 at the "
        "last epoch, 'constant' stays at learning_rate, 'onecycle' is torch's OneCycleLR (warm-up from "
        "learning_rate/25, cosine to ~0, momentum cycled).",
    )
    warmup_fraction: float = Field(
        default=0.05,
        description="Share of all optimizer steps spent raising the learning rate linearly from ~0.",
    )
    gradient_clip_norm: float = Field(
        default=1.0,
        description="Gradients are scaled down to at most this total L2 norm before each step; 0 turns it off.",
    )
    width: int = Field(default=16, description="Channels of the first conv block (doubling per block).")
    depth: int = Field(default=3, description="Number of conv blocks.")
    embedding_dim: int = Field(
        default=32,
        description="Size of the penultimate layer, the embedding used for drift and pre-labelling.",
    )
    image_size: int = Field(default=48, description="Square input size in pixels.")
    augmentations: list[Augmentation] = Field(
        # Dagster's schema takes plain dicts as the default; pydantic turns them into Augmentation objects.
        default=[dict(entry) for entry in DEFAULT_AUGMENTATIONS],
        validate_default=True,
        description="Transforms applied in order to training images (train split only, seeded). The default "
        "is small rotation, translation, brightness/contrast jitter and noise, without flips, because flips "
        "change the meaning of glyphs and of upright photos. An empty list turns augmentation off.",
    )
    early_stopping_patience: int = Field(
        default=5, description="Epochs without a val_loss improvement before stopping."
    )
    num_workers: int = Field(default=0, description="DataLoader worker processes.")
    strategy: Literal["auto", "ddp"] = Field(
        default="auto", description="'ddp' trains on `devices` processes per node."
    )
    devices: int = Field(default=1, description="Devices (processes) per node.")
    num_nodes: int = Field(default=1, description="Nodes under DDP; each runs the same command.")
    accelerator: str = Field(default="cpu", description="Lightning accelerator: 'cpu', 'gpu', 'auto', ...")
    fine_tune_from_champion: bool = Field(
        default=False, description="Start from the champion's weights instead of a fresh initialisation."
    )


@dg.asset(
    name=TRAINED_MODEL,
    dagster_type=ref_type(ModelRef),
    kinds={"pytorch", "lightning"},
    owners=[OWNER],
    code_version=CODE_VERSION,
    description="The surface classifier trained with Lightning on the train split; stored once by sha256 as "
    "safetensors plus a sidecar with its architecture, preprocessing and lineage.",
)
def trained_model(
    context: dg.AssetExecutionContext,
    config: TrainedModelConfig,
    labels: LabelsRef,
    version_store: VersionStoreResource,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    from cvops.evaluation.blessing import current_champion
    from cvops.evaluation.plots import training_curves_png, training_curves_table
    from cvops.labels.dataset import read_label_table
    from cvops.model.data import load_split_arrays
    from cvops.model.preprocess import Preprocessing
    from cvops.model.store import save_model
    from cvops.model.training import TrainConfig, checkpoint_key, train

    store = version_store.store()
    artifacts = artifact_store.store()
    champion = current_champion(artifacts) if config.fine_tune_from_champion else None
    train_config = TrainConfig.from_dict(
        {
            **config.model_dump(exclude={"fine_tune_from_champion"}),
            "fine_tune_from": str(artifacts.path_of(champion.weights)) if champion else None,
        }
    )
    preprocessing = Preprocessing(image_size=train_config.image_size)
    table = read_label_table(store, labels.labels_commit)
    splits = load_split_arrays(
        lambda path: store.read(labels.labels_commit, path), table, preprocessing, labels.classes
    )
    lineage = {
        "data_commit": labels.snapshot_commit,
        "labels_commit": labels.labels_commit,
        "labels_version": labels.table_sha256,
        "code_version": CODE_VERSION,
        "fine_tuned_from": champion.sha256 if champion else None,
    }
    checkpoint_dir = artifacts.root / "checkpoints" / checkpoint_key(train_config, labels.classes, lineage)
    reused = (checkpoint_dir / "last.ckpt").exists()

    def log_progress(epoch: int, metrics: dict[str, float]) -> None:
        left = metrics["elapsed_s"] / (epoch + 1) * (metrics["max_epochs"] - epoch - 1)
        context.log.info(
            f"epoch {epoch + 1}/{metrics['max_epochs']:.0f}: val_loss {metrics['val_loss']:.4f}, "
            f"val_accuracy {metrics['val_accuracy']:.4f}, at most {left:.0f} s left"
        )

    trained = train(train_config, splits, labels.classes, checkpoint_dir, lineage, log_progress)
    ref = save_model(artifacts, trained, code_version=CODE_VERSION)
    history = [vars(row) for row in trained.history]
    return dg.MaterializeResult(
        value=ref,
        data_version=dg.DataVersion(ref.sha256),
        metadata=readable(
            {
                "model_sha256": ref.sha256,
                "data_commit": labels.snapshot_commit,
                "labels_commit": labels.labels_commit,
                "labels_version": labels.table_sha256,
                "code_version": CODE_VERSION,
                "weights_uri": ref.weights.uri,
                "classes": dg.MetadataValue.json(list(ref.classes)),
                "train_config": dg.MetadataValue.json(train_config.to_dict()),
                "fine_tuned_from": lineage["fine_tuned_from"],
                "reused_checkpoint": reused,
                **trained.metrics(),
                "training_curves": training_curves_table(history),
                "training_curves_plot": dg.MetadataValue.md(
                    png_data_uri_markdown(training_curves_png(history), "loss and accuracy per epoch")
                ),
            }
        ),
    )


class BlessingConfig(dg.Config):
    accuracy_floor: float = Field(default=0.9, description="Test accuracy every blessed model must reach.")
    tolerance: float = Field(
        default=0.01, description="How far below the champion (same test split) a challenger may fall."
    )


@dg.asset(
    name=VALIDATION_REPORT,
    dagster_type=ref_type(ReportRef),
    kinds={"pytorch", "html"},
    owners=[OWNER],
    code_version=CODE_VERSION,
    description="The model on the test split: accuracy, per-class metrics, confusion matrix, calibration, "
    "slices, worst examples with saliency; the champion evaluated on the same split; the blessing.",
    check_specs=[
        dg.AssetCheckSpec(
            MODEL_BLESSED,
            asset=VALIDATION_REPORT,
            blocking=True,
            description="The challenger reaches `accuracy_floor` on the test split and, once there is a champion, "
            "falls at most `tolerance` below it on the same split. A failure leaves the champion and its export "
            "unchanged and stops the export.",
        )
    ],
)
def validation_report(
    context: dg.AssetExecutionContext,
    config: BlessingConfig,
    trained_model: ModelRef,
    labels: LabelsRef,
    version_store: VersionStoreResource,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    from cvops.evaluation.blessing import CHAMPION_ALIAS, bless, current_champion, promote, withheld_message
    from cvops.evaluation.html import render_report_html
    from cvops.evaluation.plots import report_plots
    from cvops.evaluation.report import evaluate
    from cvops.labels.dataset import read_label_table
    from cvops.model.data import load_split_arrays
    from cvops.model.store import load_model, preprocessing_of

    store = version_store.store()
    artifacts = artifact_store.store()
    model_ref = trained_model
    model, sidecar = load_model(artifacts, model_ref)
    preprocessing = preprocessing_of(model_ref)
    table = read_label_table(store, labels.labels_commit)
    test_rows = table[table["split"] == "test"].reset_index(drop=True)
    pixels, truth = load_split_arrays(
        lambda path: store.read(labels.labels_commit, path), test_rows, preprocessing, model_ref.classes
    )["test"]
    keys = list(test_rows["image_key"])
    result = evaluate(model, preprocessing, model_ref.classes, pixels, truth, keys)
    champion = current_champion(artifacts)
    champion_accuracy = (
        _champion_accuracy(
            artifacts, champion, lambda path: store.read(labels.labels_commit, path), test_rows
        )
        if champion is not None and champion.sha256 != model_ref.sha256
        else None
    )
    decision = bless(result.accuracy, champion_accuracy, config.accuracy_floor, config.tolerance)
    lineage = {"model_sha256": model_ref.sha256, **sidecar["lineage"], "run_id": context.run.run_id}
    plots = report_plots(result, sidecar.get("history"))
    html = render_report_html(result, plots, lineage, decision.to_dict())
    if decision.blessed and (champion is None or champion.sha256 != model_ref.sha256):
        replaced = artifacts.get_alias(CHAMPION_ALIAS)
        promoted = promote(
            artifacts,
            model_ref,
            {"run_id": context.run.run_id, "accuracy": result.accuracy, "reason": decision.reason},
        )
        record_promotion(
            context,
            promoted,
            replaced,
            {
                "accuracy": result.accuracy,
                "champion_accuracy": champion_accuracy,
                "data_commit": labels.snapshot_commit,
                "labels_commit": labels.labels_commit,
                "reason": decision.reason,
            },
        )
    check_description = decision.reason
    if not decision.blessed:
        check_description = withheld_message(decision, champion.sha256 if champion else None)
        context.log.error(check_description)
    ref = ReportRef(
        model_sha256=model_ref.sha256,
        report_json=artifacts.put_bytes(result.to_json().encode(), ".json"),
        report_html=artifacts.put_bytes(html.encode(), ".html"),
        accuracy=result.accuracy,
        champion_accuracy=champion_accuracy,
        blessed=decision.blessed,
        reason=decision.reason,
    )
    return dg.MaterializeResult(
        value=ref,
        check_results=[
            dg.AssetCheckResult(
                check_name=MODEL_BLESSED,
                passed=decision.blessed,
                description=check_description,
                metadata=readable(
                    {
                        "challenger_accuracy": result.accuracy,
                        "champion_accuracy": champion_accuracy,
                        "accuracy_floor": config.accuracy_floor,
                        "tolerance": config.tolerance,
                    }
                ),
            )
        ],
        metadata=readable(
            {
                **result.metadata(),
                "model_sha256": model_ref.sha256,
                "data_commit": labels.snapshot_commit,
                "champion_accuracy": champion_accuracy,
                "blessed": decision.blessed,
                "blessing_reason": check_description,
                "report_html": dg.MetadataValue.path(str(artifacts.path_of(ref.report_html))),
                **{
                    name: dg.MetadataValue.md(png_data_uri_markdown(png, name)) for name, png in plots.items()
                },
            }
        ),
    )


def _champion_accuracy(
    artifacts: LocalArtifactStore,
    champion: ModelRef,
    read_bytes: Callable[[str], bytes],
    test_rows: pd.DataFrame,
) -> float:
    """The champion's accuracy on the challenger's test split, with its own preprocessing and class order."""
    from cvops.model.data import load_split_arrays
    from cvops.model.inference import predict_proba
    from cvops.model.store import load_model, preprocessing_of

    model, _ = load_model(artifacts, champion)
    preprocessing = preprocessing_of(champion)
    pixels, truth = load_split_arrays(read_bytes, test_rows, preprocessing, champion.classes)["test"]
    return float(np.mean(predict_proba(model, preprocessing, pixels).argmax(axis=1) == truth))
