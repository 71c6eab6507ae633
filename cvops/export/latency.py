"""Latency and throughput of one model in several runtimes, measured the same way for each.

Each measurement: `warmup` untimed calls, then `repeats` timed calls on the same batch; p50/p90 of those.
Threads are pinned per runtime (`torch_threads`, ORT `intra_op_num_threads`, OpenVINO
`INFERENCE_NUM_THREADS`) so the runtimes compete on equal terms.
"""

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel

from cvops.errors import ExportInputError
from cvops.export.onnx_export import INPUT_NAME

if TYPE_CHECKING:
    import onnxruntime
    import torch

RUNTIME_TORCH = "pytorch_eager"
RUNTIME_ORT_FP32 = "onnxruntime_fp32"
RUNTIME_ORT_INT8 = "onnxruntime_int8"
RUNTIME_OPENVINO = "openvino_fp32"
DEFAULT_BATCHES = (1, 32)

Runner = Callable[[np.ndarray], object]


class LatencyRow(BaseModel, frozen=True):
    """One runtime at one batch size. Throughput is images per second at the median latency."""

    runtime: str
    batch: int
    latency_ms_p50: float
    latency_ms_p90: float
    throughput_images_per_s: float
    threads: int


def measure(
    runner: Runner, pixels: np.ndarray, runtime: str, threads: int, warmup: int, repeats: int
) -> LatencyRow:
    """Time `runner(pixels)`: `warmup` untimed calls, then the p50/p90 of `repeats` timed calls."""
    if repeats < 1 or len(pixels) == 0:
        raise ExportInputError(
            f"Timing {runtime} needs repeats >= 1 and a non-empty batch, got {repeats}, {len(pixels)}."
        )
    for _ in range(warmup):
        runner(pixels)
    timings_ms = np.empty(repeats)
    for index in range(repeats):
        start = time.perf_counter()
        runner(pixels)
        timings_ms[index] = (time.perf_counter() - start) * 1000.0
    p50, p90 = np.percentile(timings_ms, [50, 90])
    return LatencyRow(
        runtime=runtime,
        batch=len(pixels),
        latency_ms_p50=float(p50),
        latency_ms_p90=float(p90),
        throughput_images_per_s=float(len(pixels) / (p50 / 1000.0)),
        threads=threads,
    )


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Pin torch's process-wide intra-op thread count while measuring, then restore it."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def torch_runner(model: "torch.nn.Module") -> Runner:
    """Eager PyTorch on CPU in inference mode, on the thread count pinned by `torch_threads`."""
    import torch

    def run(pixels: np.ndarray) -> object:
        with torch.inference_mode():
            return model(torch.from_numpy(pixels))

    return run


def ort_runner(onnx_path: Path, threads: int) -> Runner:
    """ONNX Runtime CPU session with `threads` intra-op threads and full graph optimisation."""
    session = _ort_session(onnx_path, threads, profile_dir=None)

    def run(pixels: np.ndarray) -> object:
        return session.run(None, {INPUT_NAME: pixels})

    return run


def ort_op_profile(
    onnx_path: Path, pixels: np.ndarray, threads: int, runs: int, profile_dir: Path, per_node: bool = False
) -> dict[str, float]:
    """Mean milliseconds per run spent in each ORT kernel kind (`op_type`; with `per_node`, `op_type:node`),
    from ORT's own profiler, slowest first. Used to explain latency: which kernels ran, and where time goes."""
    import json

    session = _ort_session(onnx_path, threads, profile_dir)
    for _ in range(runs):
        session.run(None, {INPUT_NAME: pixels})
    events = json.loads(Path(session.end_profiling()).read_text())
    totals: dict[str, float] = {}
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            key = event["args"]["op_name"]
            if per_node:
                key = f"{key}:{event['name'].removesuffix('_kernel_time')}"
            totals[key] = totals.get(key, 0.0) + event["dur"] / 1000.0 / runs
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def ort_optimized_op_types(onnx_path: Path, threads: int, optimized_path: Path) -> dict[str, int]:
    """Op types (with counts) of the graph ORT actually runs after its CPU optimisations, saved to
    `optimized_path`. Shows whether QuantizeLinear/DequantizeLinear pairs were fused into QLinearConv etc."""
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = str(optimized_path)
    # ORT warns that the saved graph is CPU-specific; that is the point here, so keep the log quiet.
    options.log_severity_level = 3
    ort.InferenceSession(str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"])
    counts: dict[str, int] = {}
    for node in onnx.load(str(optimized_path)).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def _ort_session(onnx_path: Path, threads: int, profile_dir: Path | None) -> "onnxruntime.InferenceSession":
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if profile_dir is not None:
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(profile_dir) / Path(onnx_path).stem)
    return ort.InferenceSession(str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"])


def benchmark_runtimes(
    runners: dict[str, Runner],
    image_size: int,
    threads: int,
    batches: Sequence[int] = DEFAULT_BATCHES,
    warmup: int = 10,
    repeats: int = 50,
    seed: int = 0,
) -> list[LatencyRow]:
    """Time every runner at every batch size on the same seeded normalised input (random normal pixels)."""
    rng = np.random.default_rng(seed)
    rows = []
    for batch in batches:
        pixels = rng.standard_normal((batch, 3, image_size, image_size), dtype=np.float32)
        rows += [measure(run, pixels, name, threads, warmup, repeats) for name, run in runners.items()]
    return rows


def latency_markdown(rows: Sequence[LatencyRow]) -> str:
    """A markdown table of `rows`, sorted by batch then runtime order of appearance."""
    header = (
        "| runtime | batch | latency_ms_p50 | latency_ms_p90 | throughput_images_per_s | threads |\n"
        "|---|---:|---:|---:|---:|---:|"
    )
    ordered = sorted(rows, key=lambda row: row.batch)
    lines = [
        f"| {row.runtime} | {row.batch} | {row.latency_ms_p50:.3f} | {row.latency_ms_p90:.3f} | "
        f"{row.throughput_images_per_s:.1f} | {row.threads} |"
        for row in ordered
    ]
    return "\n".join([header, *lines])


def speed_ratio(rows: Sequence[LatencyRow], faster: str, baseline: str, batch: int) -> float:
    """How many times faster `faster` is than `baseline` at `batch` (p50 latency ratio; > 1 means faster)."""
    by_key = {(row.runtime, row.batch): row for row in rows}
    missing = [name for name in (faster, baseline) if (name, batch) not in by_key]
    if missing:
        raise ExportInputError(
            f"No latency row for {missing} at batch {batch}: measure those runtimes first."
        )
    return by_key[(baseline, batch)].latency_ms_p50 / by_key[(faster, batch)].latency_ms_p50
