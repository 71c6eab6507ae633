"""Helpers of the serving tests: tiny ONNX exports, PNG bytes and a real uvicorn server on loopback."""

import hashlib
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import uvicorn
from PIL import Image

from cvops.export.onnx_export import export_onnx
from cvops.model.network import NetworkConfig, SurfaceClassifier
from cvops.model.preprocess import Preprocessing
from cvops.serving.app import create_app
from cvops.serving.config import ServingConfig

CLASSES = ("crack", "dent", "ok", "scratch")
PREPROCESSING = Preprocessing(image_size=16)
STARTUP_TIMEOUT_S = 30.0


def export_tiny(path: Path, seed: int, forced_class: int | None = None) -> Path:
    """A seeded random SurfaceClassifier exported with the real exporter.

    `forced_class` adds a large bias to that logit, so the model predicts it for every image with confidence
    ~1: two exports forced to different classes always disagree.
    """
    torch.manual_seed(seed)
    model = SurfaceClassifier(NetworkConfig(len(CLASSES), width=4, depth=2)).eval()
    if forced_class is not None:
        with torch.no_grad():
            model.head.bias[forced_class] += 50.0
    weights_sha = hashlib.sha256(f"seed={seed},forced={forced_class}".encode()).hexdigest()
    lineage = {"model_sha256": weights_sha, "data_commit": "test-commit"}
    export_onnx(model, PREPROCESSING, CLASSES, lineage, path)
    return path


def png_bytes(seed: int, size: tuple[int, int] = (24, 20)) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@contextmanager
def running_service(config: ServingConfig) -> Iterator[str]:
    """Serve `create_app(config)` with uvicorn in a thread on a free loopback port; yields the base URL."""
    app = create_app(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("The service did not start; see the log above")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
