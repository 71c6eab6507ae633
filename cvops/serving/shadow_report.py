"""Shadow statistics -> a report per challenger, and the pure gate that decides a promotion.

The lead's Dagster `shadow_report` asset calls `build_shadow_report(shadow_stats_path(production_root))` and
`promotion_decision(...)`; nothing here imports Dagster.
"""

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel

from cvops.errors import ShadowStatsError
from cvops.serving.capture import SHADOW_TABLE


class ClassPairCount(BaseModel, frozen=True):
    champion_class: str
    challenger_class: str
    count: int


class Distribution(BaseModel, frozen=True):
    """Summary of a sample: mean and the 10th, 50th, 90th and 99th percentiles."""

    mean: float
    p10: float
    p50: float
    p90: float
    p99: float

    @classmethod
    def of(cls, values: np.ndarray) -> "Distribution":
        p10, p50, p90, p99 = np.percentile(values, [10, 50, 90, 99])
        return cls(
            mean=float(np.mean(values)), p10=float(p10), p50=float(p50), p90=float(p90), p99=float(p99)
        )


class ChallengerReport(BaseModel, frozen=True):
    """How one challenger version compared with the champion it shadowed."""

    challenger_version: str
    champion_versions: tuple[str, ...]
    num_requests: int
    num_images: int
    agreement_rate: float
    disagreements: tuple[ClassPairCount, ...]
    champion_confidence: Distribution
    challenger_confidence: Distribution
    champion_latency_ms: Distribution
    challenger_latency_ms: Distribution
    first_window: str
    last_window: str


class ShadowReport(BaseModel, frozen=True):
    """One entry per challenger version seen in the statistics, most requests first."""

    source: str
    challengers: tuple[ChallengerReport, ...]

    def for_challenger(self, version: str) -> ChallengerReport | None:
        return next((item for item in self.challengers if item.challenger_version == version), None)

    def markdown(self) -> str:
        """A summary table per challenger, then the disagreements by class pair."""
        lines = [
            "| challenger | requests | images | agreement | champion conf. p50 | challenger conf. p50 "
            "| champion latency_ms p50/p99 | challenger latency_ms p50/p99 | windows |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for item in self.challengers:
            lines.append(
                f"| {item.challenger_version} | {item.num_requests} | {item.num_images} | "
                f"{item.agreement_rate:.3f} | {item.champion_confidence.p50:.3f} | "
                f"{item.challenger_confidence.p50:.3f} | {item.champion_latency_ms.p50:.1f} / "
                f"{item.champion_latency_ms.p99:.1f} | {item.challenger_latency_ms.p50:.1f} / "
                f"{item.challenger_latency_ms.p99:.1f} | {item.first_window} … {item.last_window} |"
            )
        for item in self.challengers:
            if item.disagreements:
                lines += ["", f"Disagreements of {item.challenger_version} (champion → challenger):", ""]
                lines += ["| champion | challenger | images |", "|---|---|---:|"]
                lines += [
                    f"| {p.champion_class} | {p.challenger_class} | {p.count} |" for p in item.disagreements
                ]
        return "\n".join(lines)


class Decision(BaseModel, frozen=True):
    promote: bool
    reason: str


def build_shadow_report(stats_source: Path) -> ShadowReport:
    """Read the service's shadow statistics (SQLite) into a report; raises `ShadowStatsError` if unreadable."""
    frame = _read_comparisons(Path(stats_source))
    reports = [
        _challenger_report(version, rows) for version, rows in frame.groupby("challenger_version", sort=True)
    ]
    reports.sort(key=lambda item: (-item.num_requests, item.challenger_version))
    return ShadowReport(source=str(stats_source), challengers=tuple(reports))


def promotion_decision(
    blessed: bool,
    agreement_rate: float | None,
    num_requests: int,
    min_agreement: float,
    min_requests: int,
    export_published: bool = True,
) -> Decision:
    """Promote only a blessed challenger whose export passed its parity gates and that agreed with the champion
    often enough over enough requests."""
    if not export_published:
        return Decision(
            promote=False,
            reason="The challenger's export failed a parity gate and was not published; it is never promoted.",
        )
    if not blessed:
        return Decision(promote=False, reason="The challenger is not blessed by its validation report.")
    if num_requests < min_requests or agreement_rate is None:
        return Decision(
            promote=False,
            reason=f"Only {num_requests} shadow requests; at least {min_requests} are needed to judge agreement.",
        )
    if agreement_rate < min_agreement:
        return Decision(
            promote=False,
            reason=f"Agreement with the champion {agreement_rate:.3f} is under the minimum {min_agreement:.3f} "
            f"over {num_requests} requests.",
        )
    return Decision(
        promote=True,
        reason=f"Blessed, and agreement {agreement_rate:.3f} ≥ {min_agreement:.3f} over {num_requests} requests.",
    )


def _read_comparisons(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ShadowStatsError(
            f"No shadow statistics at {path}: start the service with a challenger and shadow mode on "
            "(python -m cvops.serving --shadow) and send traffic, or point at the right production root."
        )
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            return pd.read_sql_query(f"SELECT * FROM {SHADOW_TABLE}", connection)
    except (sqlite3.Error, pd.errors.DatabaseError) as error:
        raise ShadowStatsError(
            f"Shadow statistics at {path} are unreadable ({error}): is it a file written by the service?"
        ) from error


def _challenger_report(version: str, rows: pd.DataFrame) -> ChallengerReport:
    requests = rows.drop_duplicates("request_id")
    disagreeing = rows[rows["agree"] == 0]
    pairs = disagreeing.groupby(["champion_class", "challenger_class"]).size().sort_values(ascending=False)
    return ChallengerReport(
        challenger_version=str(version),
        champion_versions=tuple(sorted(rows["champion_version"].unique())),
        num_requests=len(requests),
        num_images=len(rows),
        agreement_rate=float(rows["agree"].mean()),
        disagreements=tuple(
            ClassPairCount(champion_class=champion, challenger_class=challenger, count=int(count))
            for (champion, challenger), count in pairs.items()
        ),
        champion_confidence=Distribution.of(rows["champion_confidence"].to_numpy()),
        challenger_confidence=Distribution.of(rows["challenger_confidence"].to_numpy()),
        champion_latency_ms=Distribution.of(requests["champion_latency_ms"].to_numpy()),
        challenger_latency_ms=Distribution.of(requests["challenger_latency_ms"].to_numpy()),
        first_window=str(rows["window"].min()),
        last_window=str(rows["window"].max()),
    )
