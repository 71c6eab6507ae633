"""Latency rows for PyTorch eager, ORT FP32 and ORT INT8 at batch 1 and 32, and the markdown table."""

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import TrainedModel

from cvops.errors import ExportInputError
from cvops.export.latency import (
    RUNTIME_ORT_FP32,
    RUNTIME_ORT_INT8,
    RUNTIME_TORCH,
    LatencyRow,
    benchmark_runtimes,
    latency_markdown,
    measure,
    ort_op_profile,
    ort_runner,
    speed_ratio,
    torch_runner,
)
from cvops.export.onnx_export import OnnxExport
from cvops.export.quantize import quantize_int8


@pytest.fixture(scope="module")
def rows(
    trained: TrainedModel, fp32_export: OnnxExport, tmp_path_factory: pytest.TempPathFactory
) -> list[LatencyRow]:
    int8 = quantize_int8(fp32_export.path, trained.train.pixels, tmp_path_factory.mktemp("int8") / "m.onnx")
    runners = {
        RUNTIME_TORCH: torch_runner(trained.model),
        RUNTIME_ORT_FP32: ort_runner(fp32_export.path, threads=1),
        RUNTIME_ORT_INT8: ort_runner(int8, threads=1),
    }
    return benchmark_runtimes(runners, image_size=16, threads=1, warmup=2, repeats=5)


def test_every_runtime_is_timed_at_both_batches(rows: list[LatencyRow]) -> None:
    assert [(row.runtime, row.batch, row.threads) for row in rows] == [
        ("pytorch_eager", 1, 1),
        ("onnxruntime_fp32", 1, 1),
        ("onnxruntime_int8", 1, 1),
        ("pytorch_eager", 32, 1),
        ("onnxruntime_fp32", 32, 1),
        ("onnxruntime_int8", 32, 1),
    ]
    for row in rows:
        assert 0 < row.latency_ms_p50 <= row.latency_ms_p90
        assert row.throughput_images_per_s == pytest.approx(row.batch * 1000.0 / row.latency_ms_p50)


def test_markdown_table_and_ratio(rows: list[LatencyRow]) -> None:
    table = latency_markdown(rows).splitlines()
    assert (
        table[0]
        == "| runtime | batch | latency_ms_p50 | latency_ms_p90 | throughput_images_per_s | threads |"
    )
    assert len(table) == 8
    first = re.fullmatch(r"\| pytorch_eager \| 1 \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| 1 \|", table[2])
    assert first is not None
    assert float(first.group(1)) == pytest.approx(rows[0].latency_ms_p50, abs=5e-4)
    ratio = speed_ratio(rows, RUNTIME_ORT_FP32, RUNTIME_TORCH, batch=1)
    assert ratio == pytest.approx(rows[0].latency_ms_p50 / rows[1].latency_ms_p50)
    with pytest.raises(ExportInputError, match="No latency row"):
        speed_ratio(rows, "openvino_fp32", RUNTIME_TORCH, batch=1)


def test_measure_counts_calls() -> None:
    calls = []
    row = measure(calls.append, np.zeros((2, 3, 4, 4), np.float32), "fake", threads=1, warmup=3, repeats=4)
    assert len(calls) == 7
    assert (row.runtime, row.batch) == ("fake", 2)


def test_op_profile_lists_kernels(fp32_export: OnnxExport, trained: TrainedModel, tmp_path: Path) -> None:
    profile = ort_op_profile(
        fp32_export.path, trained.test.pixels[:8], threads=1, runs=3, profile_dir=tmp_path
    )
    assert {"Conv", "MaxPool"} <= set(profile)
    assert all(milliseconds > 0 for milliseconds in profile.values())
    assert list(profile.values()) == sorted(profile.values(), reverse=True)
    layers = ort_op_profile(
        fp32_export.path, trained.test.pixels[:8], threads=1, runs=3, profile_dir=tmp_path, per_node=True
    )
    assert len([key for key in layers if key.startswith("Conv:")]) == 2
