"""Canary routing: a sticky, hash-based share of client keys is answered by the challenger."""

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serving_testkit import png_bytes, running_service

from cvops.serving.app import canary_share
from cvops.serving.config import ServingConfig


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5])
def test_canary_share_splits_keys_in_the_configured_proportion(fraction: float) -> None:
    keys = [f"client-{index}" for index in range(5000)]
    share = sum(canary_share(key) < fraction for key in keys) / len(keys)
    assert share == pytest.approx(fraction, abs=0.02)
    assert canary_share("client-42") == canary_share("client-42")


def _sample(url: str, name: str) -> dict[tuple[str, str], float]:
    text = httpx.get(f"{url}/metrics").text
    return {
        (sample.labels["model"], sample.labels["class"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_service_routes_sticky_keys_to_the_challenger(
    make_config: Callable[..., ServingConfig], exports: dict[str, Path]
) -> None:
    config = make_config(
        champion_path=exports["always_crack"], challenger_path=exports["always_dent"], canary_fraction=0.4
    )
    image = png_bytes(seed=5)
    keys = [f"user-{index}" for index in range(60)]
    with running_service(config) as url, httpx.Client(base_url=url) as client:
        served = {}
        for key in keys:
            answers = {
                client.post(
                    "/predict", content=image, headers={"Content-Type": "image/png", "X-Client-Key": key}
                ).json()["model"]
                for _ in range(3)
            }
            assert len(answers) == 1, f"client {key} was not sticky: {answers}"
            served[key] = answers.pop()
        predictions = _sample(url, "cvops_predictions_total")
    expected = {key: "challenger" if canary_share(key) < 0.4 else "champion" for key in keys}
    assert served == expected
    to_challenger = sum(model == "challenger" for model in served.values())
    assert 0.25 <= to_challenger / len(keys) <= 0.55
    assert predictions == {
        ("challenger", "dent"): 3.0 * to_challenger,
        ("champion", "crack"): 3.0 * (60 - to_challenger),
    }
