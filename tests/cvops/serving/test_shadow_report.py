"""The shadow report from known comparisons, and both promotion gates."""

from pathlib import Path

import pytest

from cvops.errors import ShadowStatsError
from cvops.serving.capture import ShadowComparison, ShadowStatsStore
from cvops.serving.shadow_report import build_shadow_report, promotion_decision


def _row(
    request_id: str, index: int, champion: str, challenger: str, version: str = "chal1"
) -> ShadowComparison:
    return ShadowComparison(
        recorded_at=1_790_000_000.0,
        window="2026-11-23T14" if request_id < "r5" else "2026-11-23T15",
        request_id=request_id,
        image_index=index,
        served_by="champion",
        champion_version="champ",
        challenger_version=version,
        champion_class=champion,
        challenger_class=challenger,
        champion_confidence=0.9,
        challenger_confidence=0.6 if champion == challenger else 0.4,
        agree=champion == challenger,
        champion_latency_ms=float(request_id[1:]),
        challenger_latency_ms=2.0 * float(request_id[1:]),
    )


def test_report_counts_agreement_pairs_confidence_and_latency(tmp_path: Path) -> None:
    store = ShadowStatsStore(tmp_path / "stats.sqlite")
    rows = [_row(f"r{i}", 0, "ok", "ok") for i in range(1, 7)]
    rows += [_row("r7", 0, "ok", "crack"), _row("r7", 1, "ok", "crack"), _row("r8", 0, "dent", "ok")]
    rows += [_row("r9", 0, "ok", "ok", version="chal2")]
    store.append(rows)
    store.close()
    report = build_shadow_report(tmp_path / "stats.sqlite")
    first = report.for_challenger("chal1")
    assert first is not None and report.challengers[0] == first
    assert (first.num_requests, first.num_images) == (8, 9)
    assert first.agreement_rate == pytest.approx(6 / 9)
    assert [(p.champion_class, p.challenger_class, p.count) for p in first.disagreements] == [
        ("ok", "crack", 2),
        ("dent", "ok", 1),
    ]
    assert first.champion_latency_ms.p50 == pytest.approx(4.5)
    assert first.challenger_latency_ms.mean == pytest.approx(9.0)
    assert first.challenger_confidence.mean == pytest.approx((6 * 0.6 + 3 * 0.4) / 9)
    assert (first.first_window, first.last_window) == ("2026-11-23T14", "2026-11-23T15")
    second = report.for_challenger("chal2")
    assert second is not None and (second.num_requests, second.agreement_rate) == (1, 1.0)
    table = report.markdown()
    assert "| chal1 | 8 | 9 | 0.667 |" in table
    assert "| ok | crack | 2 |" in table


def test_missing_stats_file_names_the_path_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        ShadowStatsError, match=r"No shadow statistics at .*nothing\.sqlite: start the service"
    ):
        build_shadow_report(tmp_path / "nothing.sqlite")


@pytest.mark.parametrize(
    ("blessed", "agreement", "requests", "promote", "reason"),
    [
        (False, 0.99, 5000, False, "not blessed"),
        (True, 0.99, 99, False, "Only 99 shadow requests; at least 100"),
        (True, None, 0, False, "Only 0 shadow requests"),
        (True, 0.89, 5000, False, "Agreement with the champion 0.890 is under the minimum 0.900"),
        (True, 0.9, 100, True, "Blessed, and agreement 0.900 ≥ 0.900 over 100 requests"),
    ],
)
def test_promotion_needs_blessing_and_enough_agreement_over_enough_requests(
    blessed: bool, agreement: float | None, requests: int, promote: bool, reason: str
) -> None:
    decision = promotion_decision(blessed, agreement, requests, min_agreement=0.9, min_requests=100)
    assert decision.promote is promote
    assert reason in decision.reason


def test_an_export_that_failed_its_parity_gate_is_never_promoted() -> None:
    decision = promotion_decision(
        True, 1.0, 5000, min_agreement=0.9, min_requests=100, export_published=False
    )
    assert decision.promote is False
    assert "failed a parity gate" in decision.reason
