"""Fixtures of the serving tests."""

from collections.abc import Callable
from pathlib import Path

import pytest
from serving_testkit import export_tiny

from cvops.serving.config import ServingConfig


@pytest.fixture(scope="session")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """random: unforced seed 0; always_crack / always_dent / always_crack_b: forced models."""
    root = tmp_path_factory.mktemp("exports")
    return {
        "random": export_tiny(root / "random.onnx", seed=0),
        "always_crack": export_tiny(root / "always_crack.onnx", seed=1, forced_class=0),
        "always_dent": export_tiny(root / "always_dent.onnx", seed=2, forced_class=1),
        "always_crack_b": export_tiny(root / "always_crack_b.onnx", seed=3, forced_class=0),
    }


@pytest.fixture
def make_config(tmp_path: Path, exports: dict[str, Path]) -> Callable[..., ServingConfig]:
    def build(**overrides: object) -> ServingConfig:
        values: dict[str, object] = {
            "champion_path": exports["random"],
            "production_root": tmp_path / "production",
            "shadow": False,
            "poll_interval_s": 0.1,
        }
        values.update(overrides)
        return ServingConfig.model_validate(values)

    return build
