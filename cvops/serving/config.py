"""Configuration of the inference service, and the file locations other components share with it."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

CHAMPION_EXPORT_ALIAS = "champion_export"
CHALLENGER_EXPORT_ALIAS = "challenger_export"
LATEST_DRIFT_RELPATH = Path("monitoring") / "latest_drift.json"
SHADOW_STATS_FILENAME = "shadow_stats.sqlite"
WINDOW_FORMATS: dict[str, str] = {"hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d"}
LogMode = Literal["images", "features"]


def latest_drift_path(artifact_root: Path) -> Path:
    """Where the drift asset writes `{"window": ..., "drift_score": ...}` for the service's gauge."""
    return Path(artifact_root) / LATEST_DRIFT_RELPATH


def shadow_stats_path(production_root: Path) -> Path:
    """The SQLite file of shadow comparisons that `build_shadow_report` reads."""
    return Path(production_root) / SHADOW_STATS_FILENAME


class ServingConfig(BaseModel, frozen=True):
    """Everything the service needs; every field has a working default except where the models come from.

    Models come from the artifact store aliases under `artifact_root`, or from explicit ONNX files
    (`champion_path`, `challenger_path`), which take precedence over the aliases.
    `log_mode="features"` keeps pixels out of production windows: captures store drift features, not images.
    """

    artifact_root: Path | None = None
    champion_path: Path | None = None
    challenger_path: Path | None = None
    champion_alias: str = CHAMPION_EXPORT_ALIAS
    challenger_alias: str = CHALLENGER_EXPORT_ALIAS
    production_root: Path
    drift_score_path: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    shadow: bool = True
    canary_fraction: float = Field(default=0.0, ge=0.0, le=1.0)
    low_confidence_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    log_sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    window_granularity: Literal["hour", "day"] = "hour"
    log_mode: LogMode = "images"
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    max_pixels: int = Field(default=16_000_000, gt=0)
    max_files: int = Field(default=16, gt=0)
    poll_interval_s: float = Field(default=2.0, gt=0.0)
    inference_threads: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _models_have_a_source(self) -> "ServingConfig":
        if self.champion_path is None and self.artifact_root is None:
            raise ValueError(
                "The service needs a champion: give the artifact store root (--artifact-root, which holds the "
                f"'{self.champion_alias}' alias) or an explicit ONNX file (--champion)."
            )
        return self

    @property
    def resolved_drift_score_path(self) -> Path | None:
        if self.drift_score_path is not None:
            return self.drift_score_path
        return None if self.artifact_root is None else latest_drift_path(self.artifact_root)

    @property
    def stats_path(self) -> Path:
        return shadow_stats_path(self.production_root)
