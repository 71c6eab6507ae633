"""edge_export: the champion as ONNX behind a parity gate, INT8 behind an accuracy gate, OpenVINO and Triton."""

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import numpy as np
from pydantic import Field

from cvops import __version__ as CODE_VERSION
from cvops.model.preprocess import Preprocessing
from cvops.model.store import ModelRef
from cvops.refs import ExportRef, LabelsRef, ReportRef
from cvops.storage.artifacts import LocalArtifactStore
from cvops_assets.constants import EDGE_EXPORT, OWNER
from cvops_assets.deployment.registry import record_promotion
from cvops_assets.types import ref_type
from resources.artifact_resource import ArtifactStoreResource
from resources.deployment import DeploymentResource
from resources.version_store import VersionStoreResource

if TYPE_CHECKING:
    from cvops.export.parity import ParityResult

ONNX_PARITY = "onnx_parity"
OPENVINO_PARITY = "openvino_parity"
DEFAULT_MODEL_NAME = "image_classifier"
CALIBRATION_IMAGES = 256


class EdgeExportConfig(dg.Config):
    opset: int = Field(default=17, description="ONNX opset of the export.")
    parity_tolerance: float = Field(
        default=1e-4, ge=0.0, description="Largest allowed |logit difference| vs PyTorch."
    )
    openvino_parity_tolerance: float | None = Field(
        default=None,
        ge=0.0,
        description="Largest allowed |logit difference| of the OpenVINO IR vs PyTorch (None: parity_tolerance). "
        "OpenVINO's CPU kernels may round differently from ONNX Runtime's.",
    )
    int8_max_accuracy_drop: float = Field(
        default=0.01, description="INT8 is published only within this drop."
    )
    latency_threads: int = Field(default=1, description="Threads pinned for the latency table.")
    latency_repeats: int = Field(default=30, description="Timed repeats per runtime and batch size.")
    model_name: str = Field(
        default=DEFAULT_MODEL_NAME,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The model's name: the Triton model repository's folder and the model card's title.",
    )
    intended_use: str | None = Field(
        default=None,
        description="What the model is for and what it must not be used for: the model card's first section "
        "(None: a generic text that asks the owner to state it here).",
    )


@dg.asset(
    name=EDGE_EXPORT,
    dagster_type=ref_type(ExportRef),
    kinds={"onnx", "openvino"},
    owners=[OWNER],
    code_version=CODE_VERSION,
    description="The blessed champion for the edge: ONNX (parity-gated), INT8 (accuracy-gated), OpenVINO IR, "
    "a Triton model repository, a latency table and a model card.",
    check_specs=[
        dg.AssetCheckSpec(
            ONNX_PARITY,
            asset=EDGE_EXPORT,
            blocking=True,
            description="ONNX Runtime agrees with PyTorch on held-out images: largest |logit difference| within "
            "`max_abs_logit_diff` and the same top-1 class. A failure publishes nothing.",
        ),
        dg.AssetCheckSpec(
            OPENVINO_PARITY,
            asset=EDGE_EXPORT,
            blocking=True,
            description="The OpenVINO IR agrees with PyTorch on the same images and tolerance. Without the "
            "OpenVINO runtime it is skipped: not passed, WARN severity, metadata `skipped` and `reason`.",
        ),
    ],
)
def edge_export(
    context: dg.AssetExecutionContext,
    config: EdgeExportConfig,
    trained_model: ModelRef,
    validation_report: ReportRef,
    labels: LabelsRef,
    version_store: VersionStoreResource,
    artifact_store: ArtifactStoreResource,
    deployment: DeploymentResource,
) -> dg.MaterializeResult:
    from cvops.evaluation.blessing import current_champion
    from cvops.export import latency, openvino_export
    from cvops.export.model_card import render_model_card
    from cvops.export.onnx_export import export_onnx
    from cvops.export.parity import check_parity
    from cvops.export.quantize import int8_gate, onnx_accuracy, quantize_int8
    from cvops.export.triton import write_triton_repository
    from cvops.model.store import load_model, preprocessing_of

    artifacts = artifact_store.store()
    champion = current_champion(artifacts)
    if champion is None or champion.sha256 != trained_model.sha256:
        raise dg.Failure(
            f"Model {trained_model.sha256[:12]} is not the champion; only a blessed champion is exported."
        )
    model, sidecar = load_model(artifacts, trained_model)
    preprocessing = preprocessing_of(trained_model)
    splits = _normalised_splits(version_store, labels, trained_model, preprocessing)
    lineage = {"model_sha256": trained_model.sha256, **sidecar["lineage"]}
    work = Path(tempfile.mkdtemp(prefix="export-", dir=_scratch(artifacts)))
    try:
        onnx_file = export_onnx(
            model, preprocessing, trained_model.classes, lineage, work / "model.onnx", config.opset
        )
        test_pixels, test_labels = splits["test"]
        parity = check_parity(model, onnx_file.path, test_pixels, tolerance=config.parity_tolerance)
        int8_path = quantize_int8(
            onnx_file.path, splits["train"][0][:CALIBRATION_IMAGES], work / "model.int8.onnx"
        )
        fp32_accuracy = onnx_accuracy(onnx_file.path, test_pixels, test_labels)
        int8_decision = int8_gate(
            fp32_accuracy, onnx_accuracy(int8_path, test_pixels, test_labels), config.int8_max_accuracy_drop
        )
        with latency.torch_threads(config.latency_threads):
            runners = {
                latency.RUNTIME_TORCH: latency.torch_runner(model),
                latency.RUNTIME_ORT_FP32: latency.ort_runner(onnx_file.path, config.latency_threads),
                latency.RUNTIME_ORT_INT8: latency.ort_runner(int8_path, config.latency_threads),
            }
            manifest = onnx_file.manifest.with_file(int8_path, "onnx_int8", work)
            openvino_reason = openvino_export.openvino_unavailable_reason()
            openvino_parity = None
            if openvino_reason is None:
                ir = openvino_export.export_openvino(onnx_file.path, work / "openvino")
                openvino_parity = openvino_export.check_openvino_parity(
                    model, ir.xml_path, test_pixels, tolerance=_openvino_tolerance(config)
                )
                runners[latency.RUNTIME_OPENVINO] = openvino_export.openvino_runner(
                    ir.xml_path, config.latency_threads
                )
                manifest = manifest.with_file(ir.xml_path, "openvino_xml", work).with_file(
                    ir.bin_path, "openvino_bin", work
                )
            rows = latency.benchmark_runtimes(
                runners, preprocessing.image_size, config.latency_threads, repeats=config.latency_repeats
            )
        triton = write_triton_repository(onnx_file.path, work / "triton", config.model_name)
        manifest = manifest.with_file(triton.config_path, "triton_config", work)
        card = render_model_card(
            model_name=config.model_name,
            intended_use=config.intended_use,
            classes=trained_model.classes,
            preprocessing=preprocessing,
            lineage=lineage,
            metrics={"test_accuracy": validation_report.accuracy, "onnx_fp32_accuracy": fp32_accuracy},
            latency_rows=rows,
            parity=[p for p in (parity, openvino_parity) if p is not None],
            int8_decision=int8_decision,
            opset=onnx_file.opset,
        )
        files = {entry.name: artifacts.put_file(work / entry.name) for entry in manifest.files}
        # A missing OpenVINO runtime is reported as a skipped (not passed) check and in the metadata, and does not
        # withhold the ONNX export: the edge runs ONNX, and OpenVINO can only block an IR it actually checked.
        gates_pass = parity.passed and (openvino_parity is None or openvino_parity.passed)
        ref = ExportRef(
            model_sha256=trained_model.sha256,
            onnx=files["model.onnx"],
            int8=files["model.int8.onnx"] if int8_decision.published else None,
            manifest=artifacts.put_bytes(manifest.model_dump_json(indent=1).encode(), ".json"),
            model_card=artifacts.put_bytes(card.encode(), ".md"),
            files=files,
            published=gates_pass,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if gates_pass:
        replaced = artifacts.get_alias(deployment.publish_alias())
        promoted = artifacts.set_alias(
            deployment.publish_alias(),
            ref.onnx,
            {
                "run_id": context.run.run_id,
                "model_sha256": trained_model.sha256,
                "model_version": trained_model.sha256[:12],
            },
        )
        record_promotion(
            context,
            promoted,
            replaced,
            {
                "onnx_sha256": ref.onnx.sha256,
                "int8_published": int8_decision.published,
                "fp32_accuracy": fp32_accuracy,
                "data_commit": lineage.get("data_commit"),
                "reason": f"ONNX parity passed (max |logit diff| {parity.max_abs_diff:.2e} ≤ {config.parity_tolerance})",
            },
        )
    return dg.MaterializeResult(
        value=ref,
        check_results=[
            _parity_check(ONNX_PARITY, parity),
            _parity_check(OPENVINO_PARITY, openvino_parity)
            if openvino_parity is not None
            else _skipped_check(OPENVINO_PARITY, openvino_reason),
        ],
        metadata={
            "model_sha256": dg.MetadataValue.text(trained_model.sha256),
            "data_commit": dg.MetadataValue.text(lineage.get("data_commit") or ""),
            "onnx_uri": dg.MetadataValue.text(ref.onnx.uri),
            "onnx_path": dg.MetadataValue.path(str(artifacts.path_of(ref.onnx))),
            "opset": dg.MetadataValue.int(onnx_file.opset),
            "published": dg.MetadataValue.bool(gates_pass),
            "published_as": dg.MetadataValue.text(
                deployment.publish_alias() if gates_pass else "not published"
            ),
            "openvino_skipped": dg.MetadataValue.bool(openvino_parity is None),
            "openvino_skip_reason": dg.MetadataValue.text(openvino_reason or "not skipped"),
            "int8_published": dg.MetadataValue.bool(int8_decision.published),
            "int8_reason": dg.MetadataValue.text(int8_decision.reason),
            "fp32_accuracy": fp32_accuracy,
            "int8_accuracy": int8_decision.int8_accuracy,
            "latency": dg.MetadataValue.md(latency.latency_markdown(rows)),
            "latency_threads": dg.MetadataValue.int(config.latency_threads),
            "manifest": dg.MetadataValue.json(json.loads(manifest.model_dump_json())),
            "model_card": dg.MetadataValue.md(card),
        },
    )


def _normalised_splits(
    version_store: VersionStoreResource,
    labels: LabelsRef,
    model_ref: ModelRef,
    preprocessing: Preprocessing,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Train and test pixels at the model's size, normalised exactly as in training."""
    from cvops.labels.dataset import read_label_table
    from cvops.model.data import load_split_arrays

    store = version_store.store()
    table = read_label_table(store, labels.labels_commit)
    arrays = load_split_arrays(
        lambda path: store.read(labels.labels_commit, path),
        table[table["split"].isin(["train", "test"])],
        preprocessing,
        model_ref.classes,
    )
    return {split: (preprocessing.normalise(pixels), truth) for split, (pixels, truth) in arrays.items()}


def _scratch(artifacts: LocalArtifactStore) -> Path:
    path = artifacts.root / "scratch"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _openvino_tolerance(config: EdgeExportConfig) -> float:
    if config.openvino_parity_tolerance is None:
        return config.parity_tolerance
    return config.openvino_parity_tolerance


def _skipped_check(name: str, reason: str) -> dg.AssetCheckResult:
    """Not passed, since nothing was checked; WARN, so the skip is visible without blocking the step."""
    return dg.AssetCheckResult(
        check_name=name,
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=reason,
        metadata={"skipped": True, "reason": reason},
    )


def _parity_check(name: str, result: "ParityResult") -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name,
        passed=result.passed,
        description=(
            f"{result.runtime}: max |Δ logit| {result.max_abs_diff:.2e} (tolerance {result.tolerance:.0e}), "
            f"top-1 agreement {result.top1_agreement:.4f} on {result.num_images} held-out images"
        ),
        metadata={
            "max_abs_diff": result.max_abs_diff,
            "top1_agreement": result.top1_agreement,
            "tolerance": result.tolerance,
            "num_images": result.num_images,
        },
    )
