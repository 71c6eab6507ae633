"""Load benchmark of the inference service, with and without shadow mode.

Starts the real service (`python -m cvops.serving`) in a subprocess on 127.0.0.1 with a free port, serving two
tiny seeded exports, and sends a bounded load (fixed concurrency, a fixed number of requests, a time cap) with
httpx.AsyncClient. Prints a table, then as the last line one JSON object:
`{"rps", "p50_ms", "p99_ms", "errors", "shadow_overhead", ...}` for the shadow run, where
`shadow_overhead` = client p50 latency with shadow / client p50 latency without (1.0 = no overhead).

Run: `.venv/bin/python benchmarks/serve_load.py [--requests 400 --concurrency 8 --time-cap 60]`
"""

import argparse
import asyncio
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

HOST = "127.0.0.1"
CLASSES = ("crack", "dent", "ok", "scratch")
STARTUP_TIMEOUT_S = 60.0
WARMUP_REQUESTS = 20


def export_model(path: Path, seed: int) -> Path:
    import torch

    from cvops.export.onnx_export import export_onnx
    from cvops.model.network import NetworkConfig, SurfaceClassifier
    from cvops.model.preprocess import Preprocessing

    torch.manual_seed(seed)
    model = SurfaceClassifier(NetworkConfig(len(CLASSES), width=8, depth=3)).eval()
    lineage = {
        "model_sha256": hashlib.sha256(f"bench-{seed}".encode()).hexdigest(),
        "data_commit": "benchmark",
    }
    export_onnx(model, Preprocessing(image_size=32), CLASSES, lineage, path)
    return path


def images(count: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    encoded = []
    for _ in range(count):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, size=(48, 48, 3), dtype=np.uint8)).save(buffer, format="PNG")
        encoded.append(buffer.getvalue())
    return encoded


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_service(
    workdir: Path, champion: Path, challenger: Path, shadow: bool
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(workdir / f"service_shadow_{shadow}.log", "w")  # noqa: SIM115 - closed with the process
    command = [
        sys.executable, "-m", "cvops.serving",
        "--champion", str(champion), "--challenger", str(challenger),
        "--production-root", str(workdir / f"production_shadow_{shadow}"),
        "--host", HOST, "--port", str(port), "--threads", "1",
        "--shadow" if shadow else "--no-shadow",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1]
    )
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The service exited with {process.returncode}; see {log.name}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"The service did not answer /healthz within {STARTUP_TIMEOUT_S} s; see {log.name}")


async def run_load(url: str, bodies: list[bytes], requests: int, concurrency: int, time_cap_s: float) -> dict:
    latencies: list[float] = []
    errors = 0
    next_index = 0
    deadline = time.monotonic() + time_cap_s
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def worker() -> None:
            nonlocal next_index, errors
            while next_index < requests and time.monotonic() < deadline:
                body = bodies[next_index % len(bodies)]
                next_index += 1
                started = time.perf_counter()
                try:
                    response = await client.post(
                        "/predict", content=body, headers={"Content-Type": "image/png"}
                    )
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += not ok

        for body in bodies[:WARMUP_REQUESTS]:
            await client.post("/predict", content=body, headers={"Content-Type": "image/png"})
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latency_ms = np.asarray(latencies) * 1000.0
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(latency_ms, 50)),
        "p99_ms": float(np.percentile(latency_ms, 99)),
        "errors": errors,
    }


def measure(workdir: Path, champion: Path, challenger: Path, shadow: bool, args: argparse.Namespace) -> dict:
    process, url = start_service(workdir, champion, challenger, shadow)
    try:
        result = asyncio.run(run_load(url, images(64), args.requests, args.concurrency, args.time_cap))
        if shadow:
            time.sleep(1.0)  # let the last background shadow tasks finish before reading the counters
            metrics = httpx.get(f"{url}/metrics").text
            result["shadow_comparisons"] = sum(
                float(line.rsplit(" ", 1)[1])
                for line in metrics.splitlines()
                if line.startswith("cvops_shadow_comparisons_total{")
            )
    finally:
        process.terminate()
        process.wait(timeout=30)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--time-cap", type=float, default=60.0, help="seconds per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cvops-serve-load-") as tmp:
        workdir = Path(tmp)
        champion = export_model(workdir / "champion.onnx", seed=0)
        challenger = export_model(workdir / "challenger.onnx", seed=1)
        os.environ.setdefault("CVOPS_HOME", str(workdir / "home"))
        plain = measure(workdir, champion, challenger, shadow=False, args=args)
        shadow = measure(workdir, champion, challenger, shadow=True, args=args)
    overhead = shadow["p50_ms"] / plain["p50_ms"]
    print(f"{'mode':<10}{'requests':>10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, result in (("no shadow", plain), ("shadow", shadow)):
        print(
            f"{name:<10}{result['requests']:>10}{result['rps']:>10.1f}{result['p50_ms']:>10.2f}"
            f"{result['p99_ms']:>10.2f}{result['errors']:>8}"
        )
    print(f"shadow overhead (p50 ratio): {overhead:.2f}, rps ratio: {shadow['rps'] / plain['rps']:.2f}, "
          f"shadow comparisons recorded: {shadow['shadow_comparisons']:.0f}")  # fmt: skip
    errors = plain["errors"] + shadow["errors"]
    print(
        json.dumps(
            {
                "rps": round(shadow["rps"], 1),
                "p50_ms": round(shadow["p50_ms"], 2),
                "p99_ms": round(shadow["p99_ms"], 2),
                "errors": errors,
                "shadow_overhead": round(overhead, 3),
                "shadow_rps_ratio": round(shadow["rps"] / plain["rps"], 3),
                "no_shadow": {key: round(value, 2) for key, value in plain.items()},
                "concurrency": args.concurrency,
            }
        )
    )
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
