"""Model card: every section present, with the values passed in."""

from conftest import CLASSES, LINEAGE, TrainedModel

from cvops.export.latency import LatencyRow
from cvops.export.model_card import DEFAULT_INTENDED_USE, render_model_card
from cvops.export.parity import ParityResult
from cvops.export.quantize import int8_gate


def test_card_lists_classes_preprocessing_metrics_lineage_checks_and_latency(trained: TrainedModel) -> None:
    parity = ParityResult(
        runtime="onnxruntime_cpu",
        num_images=128,
        max_abs_diff=1.5e-6,
        top1_agreement=1.0,
        tolerance=1e-4,
        min_top1_agreement=1.0,
        passed=True,
    )
    latency = LatencyRow(
        runtime="onnxruntime_fp32",
        batch=1,
        latency_ms_p50=0.25,
        latency_ms_p90=0.3,
        throughput_images_per_s=4000.0,
        threads=1,
    )
    card = render_model_card(
        model_name="surface_classifier",
        classes=CLASSES,
        preprocessing=trained.preprocessing,
        lineage=LINEAGE,
        metrics={"val_accuracy": 0.9375, "macro_f1": 0.93},
        latency_rows=[latency],
        parity=[parity],
        int8_decision=int8_gate(0.9375, 0.93),
        opset=17,
    )
    headings = [line for line in card.splitlines() if line.startswith("#")]
    assert headings == [
        "# Model card: surface_classifier",
        "## Intended use",
        "## Classes",
        "## Inputs and preprocessing",
        "## Metrics",
        "## Data and lineage",
        "## Export checks",
        "## Latency and throughput",
        "## Limitations",
    ]
    assert "| 3 | crack |" in card
    assert "- Input `pixels`: float32, NCHW `(batch, 3, 16, 16)`, RGB; batch axis dynamic." in card
    assert "subtract mean [0.45, 0.45, 0.45] and divide by std [0.2, 0.2, 0.2]" in card
    assert "| val_accuracy | 0.9375 |" in card
    assert "| data_commit | `c0ffee1234` |" in card
    assert "max |Δ logit| 1.50e-06 (tolerance 1e-04), top-1 agreement 1.0000: **passed**" in card
    assert (
        "- INT8 published: accuracy drop 0.0075 within the allowed 0.0100 (FP32 0.9375, INT8 0.9300)" in card
    )
    assert "| onnxruntime_fp32 | 1 | 0.250 | 0.300 | 4000.0 | 1 |" in card
    assert "ONNX opset 17" in card


def test_card_without_measurements_says_so(trained: TrainedModel) -> None:
    card = render_model_card(
        model_name="m", classes=CLASSES, preprocessing=trained.preprocessing, lineage=LINEAGE, metrics={}
    )
    assert "No metrics were supplied." in card
    assert "No export checks were run." in card
    assert "## Latency and throughput\n\nNot measured." in card


def test_the_intended_use_is_the_owners_or_says_that_none_was_stated(trained: TrainedModel) -> None:
    def intended_use(text: str | None) -> str:
        card = render_model_card(
            model_name="shelf_items",
            classes=CLASSES,
            preprocessing=trained.preprocessing,
            lineage=LINEAGE,
            metrics={},
            intended_use=text,
        )
        return card.split("## Intended use\n\n", 1)[1].split("\n\n## ", 1)[0]

    assert intended_use("Counting items on shop shelves; never for pricing.") == (
        "Counting items on shop shelves; never for pricing."
    )
    assert intended_use(None) == DEFAULT_INTENDED_USE
    assert "surface" not in DEFAULT_INTENDED_USE and "`intended_use`" in DEFAULT_INTENDED_USE
