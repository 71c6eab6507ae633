"""`python -m cvops.serving`: run the inference service with uvicorn.

Every option also reads an environment variable (`CVOPS_SERVE_<OPTION>`, e.g. `CVOPS_SERVE_PORT`); the command
line wins over the environment.
"""

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from cvops.paths import cvops_home
from cvops.serving.app import create_app
from cvops.serving.config import ServingConfig

ENV_PREFIX = "CVOPS_SERVE_"


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"{ENV_PREFIX}{name.upper().replace('-', '_')}", default)


def _flag(value: str | None) -> bool:
    return str(value).lower() in {"1", "true", "yes", "on"}


def parse_config(argv: Sequence[str] | None = None) -> ServingConfig:
    """The service configuration from the command line, then `CVOPS_SERVE_*`, then the defaults."""
    parser = argparse.ArgumentParser(prog="python -m cvops.serving", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--artifact-root",
        type=Path,
        default=_env("artifact_root", str(cvops_home() / "artifacts")),
        help="artifact store holding the champion_export / challenger_export aliases",
    )
    parser.add_argument("--champion", type=Path, default=_env("champion"), help="explicit champion ONNX file")
    parser.add_argument(
        "--challenger", type=Path, default=_env("challenger"), help="explicit challenger ONNX file"
    )
    parser.add_argument(
        "--production-root",
        type=Path,
        default=_env("production_root", str(cvops_home() / "production")),
        help="where production windows and shadow statistics are written",
    )
    parser.add_argument("--host", default=_env("host", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(_env("port", "8000")))
    parser.add_argument(
        "--shadow",
        action=argparse.BooleanOptionalAction,
        default=_flag(_env("shadow", "true")),
        help="run the challenger beside the champion on every request",
    )
    parser.add_argument(
        "--canary-fraction",
        type=float,
        default=float(_env("canary_fraction", "0")),
        help="share of client keys answered by the challenger",
    )
    parser.add_argument(
        "--low-confidence",
        type=float,
        default=float(_env("low_confidence", "0.6")),
        help="confidence under which an image is saved for review",
    )
    parser.add_argument(
        "--log-sample-rate",
        type=float,
        default=float(_env("log_sample_rate", "1.0")),
        help="share of served images saved into production windows",
    )
    parser.add_argument("--window", choices=("hour", "day"), default=_env("window", "hour"))
    parser.add_argument(
        "--log-mode",
        choices=("images", "features"),
        default=_env("log_mode", "images"),
        help="what production windows keep of a captured image: the image, or only its drift features (privacy)",
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=int(_env("max_body_bytes", str(8 * 1024 * 1024)))
    )
    parser.add_argument("--max-pixels", type=int, default=int(_env("max_pixels", "16000000")))
    parser.add_argument("--max-files", type=int, default=int(_env("max_files", "16")))
    parser.add_argument("--poll-interval", type=float, default=float(_env("poll_interval", "2.0")))
    parser.add_argument("--threads", type=int, default=_env("threads"), help="ONNX Runtime intra-op threads")
    args = parser.parse_args(argv)
    return ServingConfig(
        artifact_root=args.artifact_root,
        champion_path=args.champion,
        challenger_path=args.challenger,
        production_root=args.production_root,
        host=args.host,
        port=args.port,
        shadow=args.shadow,
        canary_fraction=args.canary_fraction,
        low_confidence_threshold=args.low_confidence,
        log_sample_rate=args.log_sample_rate,
        window_granularity=args.window,
        log_mode=args.log_mode,
        max_body_bytes=args.max_body_bytes,
        max_pixels=args.max_pixels,
        max_files=args.max_files,
        poll_interval_s=args.poll_interval,
        inference_threads=args.threads,
    )


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_config(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="info", access_log=False)


if __name__ == "__main__":
    main()
