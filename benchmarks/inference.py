"""PyTorch eager vs ONNX Runtime FP32 vs ONNX Runtime INT8 (and OpenVINO) on one model, side by side.

Default: a demo SurfaceClassifier trained for a few seeded epochs on `cvops.datagen` images. `--model REF.json`
benchmarks the project's trained model instead (a ModelRef JSON as the IO manager stores it; weights from the
artifact store at `--artifacts`). Prints the latency table, accuracies and ratios; the last line is JSON:
{"ort_fp32_vs_torch": ..., "int8_vs_fp32": ..., "int8_accuracy_drop": ...} (speed ratios > 1 mean faster,
at batch 1; the accuracy drop is a fraction). Targets: ORT FP32 >= 2x eager at batch 1, INT8 >= 1.5x FP32 with a
drop <= 0.01. A missed target triggers ORT per-op profiling and a look at the CPU's int8 instructions.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cvops.datagen import CLASSES, generate_arrays
from cvops.export.latency import (
    RUNTIME_OPENVINO,
    RUNTIME_ORT_FP32,
    RUNTIME_ORT_INT8,
    RUNTIME_TORCH,
    LatencyRow,
    benchmark_runtimes,
    latency_markdown,
    ort_op_profile,
    ort_optimized_op_types,
    ort_runner,
    speed_ratio,
    torch_runner,
)
from cvops.export.onnx_export import export_onnx
from cvops.export.openvino_export import (
    check_openvino_parity,
    export_openvino,
    openvino_runner,
    openvino_unavailable_reason,
)
from cvops.export.parity import check_parity, torch_logits
from cvops.export.quantize import int8_gate, onnx_accuracy, quantize_int8
from cvops.model.network import NetworkConfig, SurfaceClassifier
from cvops.model.preprocess import Preprocessing
from cvops.paths import cvops_home

FP32_TARGET = 2.0
INT8_TARGET = 1.5
MAX_DROP = 0.01
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "avx512_bf16")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", type=Path, help="ModelRef JSON of a trained model (default: train a demo model)"
    )
    parser.add_argument("--artifacts", type=Path, help="artifact store root (default: $CVOPS_HOME/artifacts)")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--train-images", type=int, default=1600)
    parser.add_argument("--test-images", type=int, default=800)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--calibration-images", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="where to keep the exports (default: a temporary folder)")
    return parser.parse_args()


def train_demo_model(
    images: np.ndarray, labels: np.ndarray, preprocessing: Preprocessing, args: Any
) -> SurfaceClassifier:
    torch.manual_seed(args.seed)
    model = SurfaceClassifier(
        NetworkConfig(num_classes=len(CLASSES), width=args.width, depth=3, embedding_dim=32)
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    pixels, targets = torch.from_numpy(preprocessing.normalise(images)), torch.from_numpy(labels)
    generator = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        started, losses = time.perf_counter(), []
        for batch in torch.randperm(len(pixels), generator=generator).split(64):
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(pixels[batch]), targets[batch])
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        print(
            f"epoch {epoch + 1}/{args.epochs}: loss {np.mean(losses):.3f} ({time.perf_counter() - started:.1f} s)"
        )
    return model.eval()


def load_project_model(args: Any) -> tuple[SurfaceClassifier, Preprocessing, tuple[str, ...], dict[str, Any]]:
    from cvops.model.store import ModelRef, load_model
    from cvops.storage.artifacts import LocalArtifactStore

    ref = ModelRef.model_validate_json(args.model.read_text())
    store = LocalArtifactStore(args.artifacts or cvops_home() / "artifacts")
    model, sidecar = load_model(store, ref)
    lineage = {
        "model_sha256": ref.sha256,
        "data_commit": ref.data_commit or "unknown",
        **sidecar.get("lineage", {}),
    }
    return model, Preprocessing.from_dict(ref.preprocessing), ref.classes, lineage


def labelled_pixels(
    n: int, seed: int, preprocessing: Preprocessing, classes: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    images, names = generate_arrays(n, size=preprocessing.image_size, seed=seed, classes=classes)
    labels = np.array([classes.index(name) for name in names])
    return images, labels, preprocessing.normalise(images)


def explain_misses(
    rows: list[LatencyRow], fp32: Path, int8: Path, pixels: np.ndarray, args: Any, out: Path
) -> None:
    """ORT per-op time at batch 1 and 32, the kernels ORT runs after fusion, and the CPU's int8 instructions."""
    flags = Path("/proc/cpuinfo").read_text().split("flags", 1)[-1].split("\n", 1)[0].split()
    print("\n## Profile")
    print(f"CPU int8/bf16 dot-product flags: {[flag for flag in VNNI_FLAGS if flag in flags] or 'none'}")
    for name, path in (("fp32", fp32), ("int8", int8)):
        print(
            f"ORT {name} kernels after optimisation: {ort_optimized_op_types(path, args.threads, out / f'{name}.opt.onnx')}"
        )
        for batch in (1, 32):
            profile = ort_op_profile(path, pixels[:batch], args.threads, runs=100, profile_dir=out)
            total = sum(profile.values())
            parts = ", ".join(f"{op} {ms * 1000:.0f}us" for op, ms in profile.items())
            print(f"ORT {name} batch {batch}: kernels {total * 1000:.0f}us per run: {parts}")
        layers = ort_op_profile(path, pixels[:1], args.threads, runs=100, profile_dir=out, per_node=True)
        convs = ", ".join(f"{node} {ms * 1000:.1f}us" for node, ms in layers.items() if "Conv" in node)
        print(f"ORT {name} batch 1 per conv layer: {convs}")
    for batch in (1, 32):
        by_key = {(row.runtime, row.batch): row.latency_ms_p50 for row in rows}
        print(
            f"batch {batch} p50: torch {by_key[(RUNTIME_TORCH, batch)]:.3f} ms, ORT fp32 "
            f"{by_key[(RUNTIME_ORT_FP32, batch)]:.3f} ms, ORT int8 {by_key[(RUNTIME_ORT_INT8, batch)]:.3f} ms"
        )


def main() -> None:
    args = parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="cvops-inference-"))
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    if args.model:
        model, preprocessing, classes, lineage = load_project_model(args)
        # Stands in for the model's train split: same generator, a seed the test images do not use.
        calibration = labelled_pixels(args.calibration_images, args.seed, preprocessing, classes)[2]
    else:
        preprocessing, classes = Preprocessing(image_size=args.image_size), tuple(CLASSES)
        images, labels, train_pixels = labelled_pixels(args.train_images, args.seed, preprocessing, classes)
        model = train_demo_model(images, labels, preprocessing, args)
        lineage = {"model_sha256": "demo", "data_commit": f"generate_arrays(seed={args.seed})"}
        calibration = train_pixels[: args.calibration_images]
    _, test_labels, test_pixels = labelled_pixels(args.test_images, args.seed + 2, preprocessing, classes)

    export = export_onnx(model, preprocessing, classes, lineage, out / "model.onnx")
    parity = check_parity(model, export.path, test_pixels)
    int8 = quantize_int8(export.path, calibration, out / "model.int8.onnx")
    torch_acc = float(np.mean(torch_logits(model, test_pixels).argmax(axis=1) == test_labels))
    fp32_acc = onnx_accuracy(export.path, test_pixels, test_labels)
    int8_acc = onnx_accuracy(int8, test_pixels, test_labels)
    decision = int8_gate(fp32_acc, int8_acc, MAX_DROP)

    runners = {
        RUNTIME_TORCH: torch_runner(model),
        RUNTIME_ORT_FP32: ort_runner(export.path, args.threads),
        RUNTIME_ORT_INT8: ort_runner(int8, args.threads),
    }
    unavailable = openvino_unavailable_reason()
    if unavailable is None:
        ir = export_openvino(export.path, out / "openvino")
        print(f"OpenVINO parity: {check_openvino_parity(model, ir.xml_path, test_pixels).model_dump()}")
        runners[RUNTIME_OPENVINO] = openvino_runner(ir.xml_path, args.threads)
    else:
        print(unavailable)
    rows = benchmark_runtimes(
        runners, preprocessing.image_size, args.threads, warmup=args.warmup, repeats=args.repeats
    )

    print(
        f"\nexports in {out}; ONNX opset {export.opset}, {export.size_bytes} bytes FP32, {int8.stat().st_size} bytes INT8"
    )
    print(f"ORT parity: {parity.model_dump()}")
    print(
        f"test accuracy on {len(test_labels)} images: torch {torch_acc:.4f}, ORT fp32 {fp32_acc:.4f}, ORT int8 {int8_acc:.4f}"
    )
    print(decision.reason)
    print()
    print(latency_markdown(rows))
    ratios = {
        "ort_fp32_vs_torch": speed_ratio(rows, RUNTIME_ORT_FP32, RUNTIME_TORCH, batch=1),
        "int8_vs_fp32": speed_ratio(rows, RUNTIME_ORT_INT8, RUNTIME_ORT_FP32, batch=1),
        "int8_accuracy_drop": fp32_acc - int8_acc,
    }
    batch32 = {
        "ort_fp32_vs_torch_batch32": speed_ratio(rows, RUNTIME_ORT_FP32, RUNTIME_TORCH, batch=32),
        "int8_vs_fp32_batch32": speed_ratio(rows, RUNTIME_ORT_INT8, RUNTIME_ORT_FP32, batch=32),
    }
    print(f"\nratios (batch 1): {ratios}\nratios (batch 32): {batch32}")
    missed = [
        name
        for name, missed_target in (
            ("ORT FP32 >= 2x eager at batch 1", ratios["ort_fp32_vs_torch"] < FP32_TARGET),
            ("INT8 >= 1.5x FP32 at batch 1", ratios["int8_vs_fp32"] < INT8_TARGET),
            ("INT8 accuracy drop <= 0.01", ratios["int8_accuracy_drop"] > MAX_DROP),
        )
        if missed_target
    ]
    print(f"targets missed: {missed or 'none'}")
    if missed:
        explain_misses(rows, export.path, int8, test_pixels, args, out)
    print(json.dumps({key: round(value, 4) for key, value in ratios.items()}))


if __name__ == "__main__":
    main()
