"""The model card: a markdown page that travels with every export."""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cvops.export.latency import LatencyRow, latency_markdown
from cvops.export.onnx_export import INPUT_NAME, OUTPUT_NAME
from cvops.export.parity import ParityResult
from cvops.export.quantize import GateDecision
from cvops.model.preprocess import Preprocessing

DEFAULT_INTENDED_USE = (
    "Assigning each image one of the classes below. Its owner has not stated a use (edge_export's "
    "`intended_use` setting): check it on images like those it will see before relying on it."
)
DEFAULT_LIMITATIONS = (
    "Trained and validated only on images like the training snapshot; lighting, camera, resolution or "
    "scene changes can reduce accuracy without warning. The drift monitor watches for this.",
    "Outputs a probability per known class; an image of an unseen defect type is still assigned one of them.",
    "Probabilities are softmax scores, not calibrated risks; see the calibration error in the metrics.",
    "Latency figures were measured on the export machine's CPU and will differ on the target device.",
)


def render_model_card(
    *,
    model_name: str,
    classes: Sequence[str],
    preprocessing: Preprocessing,
    lineage: Mapping[str, Any],
    metrics: Mapping[str, float],
    latency_rows: Sequence[LatencyRow] = (),
    parity: Sequence[ParityResult] = (),
    int8_decision: GateDecision | None = None,
    opset: int | None = None,
    intended_use: str | None = None,
    limitations: Sequence[str] = DEFAULT_LIMITATIONS,
) -> str:
    """Markdown: intended use, classes, inputs and preprocessing, metrics (fractions, from the validation
    report), lineage, export checks, latency and limitations. Sections with nothing to show say so."""
    sections = [
        f"# Model card: {model_name}",
        "## Intended use\n\n" + (intended_use or DEFAULT_INTENDED_USE),
        "## Classes\n\n" + _classes_table(classes),
        "## Inputs and preprocessing\n\n" + _inputs_text(preprocessing, len(classes), opset),
        "## Metrics\n\n" + _metrics_table(metrics),
        "## Data and lineage\n\n" + _lineage_table(lineage),
        "## Export checks\n\n" + _checks_text(parity, int8_decision),
        "## Latency and throughput\n\n"
        + (latency_markdown(latency_rows) if latency_rows else "Not measured."),
        "## Limitations\n\n" + "\n".join(f"- {item}" for item in limitations),
    ]
    return "\n\n".join(sections) + "\n"


def _classes_table(classes: Sequence[str]) -> str:
    rows = [f"| {index} | {name} |" for index, name in enumerate(classes)]
    return "\n".join(["| logit index | class |", "|---:|---|", *rows])


def _inputs_text(preprocessing: Preprocessing, num_classes: int, opset: int | None) -> str:
    size = preprocessing.image_size
    opset_text = f"ONNX opset {opset}, " if opset is not None else ""
    return (
        f"- Input `{INPUT_NAME}`: float32, NCHW `(batch, 3, {size}, {size})`, RGB; batch axis dynamic.\n"
        f"- Output `{OUTPUT_NAME}`: float32 `(batch, {num_classes})` raw logits; apply softmax for probabilities.\n"
        f"- Preprocessing (identical to training): decode to RGB, resize to {size}x{size} (bilinear, PIL), "
        f"scale to [0, 1], subtract mean {list(preprocessing.mean)} and divide by std {list(preprocessing.std)} "
        "per channel.\n"
        f"- {opset_text}classes and preprocessing are stored in the ONNX `metadata_props`; "
        "`cvops.export.predictor.Predictor` applies them."
    )


def _metrics_table(metrics: Mapping[str, float]) -> str:
    if not metrics:
        return "No metrics were supplied."
    rows = [f"| {name} | {_format(value)} |" for name, value in sorted(metrics.items())]
    return "\n".join(["| metric | value |", "|---|---:|", *rows])


def _lineage_table(lineage: Mapping[str, Any]) -> str:
    rows = [
        f"| {key} | `{value if isinstance(value, str) else json.dumps(value)}` |"
        for key, value in sorted(lineage.items())
    ]
    return "\n".join(["| field | value |", "|---|---|", *rows])


def _checks_text(parity: Sequence[ParityResult], int8_decision: GateDecision | None) -> str:
    lines = [
        f"- Parity {result.runtime} vs PyTorch on {result.num_images} held-out images: "
        f"max |Δ logit| {result.max_abs_diff:.2e} (tolerance {result.tolerance:.0e}), top-1 agreement "
        f"{result.top1_agreement:.4f}: **{'passed' if result.passed else 'FAILED'}**"
        for result in parity
    ]
    if int8_decision is not None:
        lines.append(f"- {int8_decision.reason}")
    return "\n".join(lines) if lines else "No export checks were run."


def _format(value: float) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
