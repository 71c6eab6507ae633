"""shadow_report through Dagster: shadow statistics written by the service's own store, stored upstream refs,
and both gates (blessing, then enough agreement over enough requests) deciding the champion_export alias."""

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import torch
from explicit_roots import explicit_resources

from cvops.export.onnx_export import export_onnx
from cvops.export.predictor import Predictor
from cvops.model.network import NetworkConfig, SurfaceClassifier
from cvops.model.preprocess import Preprocessing
from cvops.refs import ExportRef, ReportRef
from cvops.serving.capture import ShadowComparison, ShadowStatsStore
from cvops.serving.config import CHAMPION_EXPORT_ALIAS, shadow_stats_path
from cvops.storage.artifacts import ArtifactRef, LocalArtifactStore
from cvops_assets.constants import EDGE_EXPORT, MODEL_REGISTRY, SHADOW_REPORT, VALIDATION_REPORT
from cvops_assets.definitions import all_assets
from cvops_assets.deployment.shadow import SHADOW_PROMOTION
from resources.deployment import DeploymentResource

CLASSES = ("crack", "dent", "ok", "scratch")
NUM_REQUESTS = 10
NUM_AGREEING = 9
MIN_AGREEMENT = 0.9
CHAMPION_SHA = hashlib.sha256(b"champion weights").hexdigest()
CHALLENGER_SHA = hashlib.sha256(b"challenger weights").hexdigest()


@dataclass(frozen=True)
class Setup:
    root: Path
    artifacts: LocalArtifactStore
    champion_onnx: ArtifactRef
    export: ExportRef

    def production_root(self) -> Path:
        return self.root / "production"

    def materialize(self, blessed: bool, **deployment: Any) -> dg.ExecuteInProcessResult:
        """Store the upstream refs where the JSON IO manager (`root/refs`) reads them, then materialize
        shadow_report alone out of the whole asset graph."""
        report = ReportRef(
            model_sha256=CHALLENGER_SHA,
            report_json=self.export.manifest,
            report_html=self.export.model_card,
            accuracy=0.93,
            champion_accuracy=0.91,
            blessed=blessed,
            reason="test",
        )
        for asset, ref in ((EDGE_EXPORT, self.export), (VALIDATION_REPORT, report)):
            path = self.root / "refs" / asset / "latest.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(ref.model_dump_json())
        resources = explicit_resources(
            self.root, deployment=DeploymentResource(promotion="shadow", **deployment)
        )
        return dg.materialize(all_assets(), resources=resources, selection=[SHADOW_REPORT])


def _tiny_export(path: Path, seed: int, model_sha256: str) -> Path:
    torch.manual_seed(seed)
    model = SurfaceClassifier(NetworkConfig(len(CLASSES), width=4, depth=2)).eval()
    lineage = {"model_sha256": model_sha256, "data_commit": "test-commit"}
    export_onnx(model, Preprocessing(image_size=16), CLASSES, lineage, path)
    return path


@pytest.fixture(scope="module")
def onnx_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("onnx")
    return {
        "champion": _tiny_export(root / "champion.onnx", 0, CHAMPION_SHA),
        "challenger": _tiny_export(root / "challenger.onnx", 1, CHALLENGER_SHA),
    }


@pytest.fixture
def setup(tmp_path: Path, onnx_files: dict[str, Path]) -> Setup:
    """The champion serves under champion_export; the challenger's export is the upstream edge_export."""
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    champion = artifacts.put_file(onnx_files["champion"], ".onnx")
    artifacts.set_alias(CHAMPION_EXPORT_ALIAS, champion, {"model_version": CHAMPION_SHA[:12]})
    challenger = artifacts.put_file(onnx_files["challenger"], ".onnx")
    export = ExportRef(
        model_sha256=CHALLENGER_SHA,
        onnx=challenger,
        int8=None,
        manifest=artifacts.put_bytes(b'{"manifest": true}', ".json"),
        model_card=artifacts.put_bytes(b"# card", ".md"),
        files={"model.onnx": challenger},
        published=True,
    )
    return Setup(tmp_path, artifacts, champion, export)


def _record_shadow_traffic(production_root: Path) -> None:
    """What the service records: NUM_REQUESTS single-image requests, NUM_AGREEING of them agreeing, plus an
    older challenger's comparisons that must not count for this one."""
    store = ShadowStatsStore(shadow_stats_path(production_root))
    rows = [
        _comparison(f"r{index:02d}", CHALLENGER_SHA[:12], "ok" if index < NUM_AGREEING else "dent")
        for index in range(NUM_REQUESTS)
    ]
    rows += [_comparison(f"old{index}", "0123456789ab", "dent") for index in range(30)]
    store.append(rows)
    store.close()


def _comparison(request_id: str, challenger_version: str, challenger_class: str) -> ShadowComparison:
    return ShadowComparison(
        recorded_at=1_790_000_000.0,
        window="2026-11-23T14",
        request_id=request_id,
        image_index=0,
        served_by="champion",
        champion_version=CHAMPION_SHA[:12],
        challenger_version=challenger_version,
        champion_class="ok",
        challenger_class=challenger_class,
        champion_confidence=0.9,
        challenger_confidence=0.8,
        agree=challenger_class == "ok",
        champion_latency_ms=2.0,
        challenger_latency_ms=3.0,
    )


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (event,) = result.get_asset_materialization_events()
    assert event.asset_key.path == [SHADOW_REPORT]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def _check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == SHADOW_PROMOTION
    return evaluation


def test_a_blessed_challenger_that_agreed_often_enough_becomes_the_champion(setup: Setup) -> None:
    _record_shadow_traffic(setup.production_root())
    result = setup.materialize(
        blessed=True, min_shadow_agreement=MIN_AGREEMENT, min_shadow_requests=NUM_REQUESTS
    )
    reason = "Blessed, and agreement 0.900 ≥ 0.900 over 10 requests."
    alias = setup.artifacts.get_alias(CHAMPION_EXPORT_ALIAS)
    assert alias is not None and alias.ref == setup.export.onnx != setup.champion_onnx
    assert alias.info == {"run_id": result.run_id, "model_version": CHALLENGER_SHA[:12], "reason": reason}
    assert Predictor.from_onnx(setup.artifacts.path_of(alias.ref)).model_version == CHALLENGER_SHA[:12]
    assert [record.ref for record in setup.artifacts.alias_history(CHAMPION_EXPORT_ALIAS)] == [
        setup.champion_onnx,
        setup.export.onnx,
    ]
    check = _check(result)
    assert (check.passed, check.description) == (True, reason)
    metadata = _metadata(result)
    assert {key: metadata[key] for key in ("challenger_version", "num_requests", "promoted", "decision")} == {
        "challenger_version": CHALLENGER_SHA[:12],
        "num_requests": NUM_REQUESTS,
        "promoted": True,
        "decision": reason,
    }
    assert metadata["agreement_rate"] == pytest.approx(NUM_AGREEING / NUM_REQUESTS, abs=1e-12)
    assert f"| {CHALLENGER_SHA[:12]} | 10 | 10 | 0.900 |" in metadata["report"]
    (registered,) = result.asset_observations_for_node(SHADOW_REPORT)
    entry = {key: value.value for key, value in registered.metadata.items()}
    assert registered.asset_key == dg.AssetKey(MODEL_REGISTRY)
    assert {key: entry[key] for key in ("alias", "model_version", "replaced", "reason", "num_requests")} == {
        "alias": CHAMPION_EXPORT_ALIAS,
        "model_version": CHALLENGER_SHA[:12],
        "replaced": CHAMPION_SHA[:12],
        "reason": reason,
        "num_requests": NUM_REQUESTS,
    }
    assert entry["agreement_rate"] == pytest.approx(0.9)
    assert "| ok | dent | 1 |" in metadata["report"]


@pytest.mark.parametrize(
    ("blessed", "min_agreement", "min_requests", "reason"),
    [
        (False, MIN_AGREEMENT, NUM_REQUESTS, "The challenger is not blessed by its validation report."),
        (
            True,
            MIN_AGREEMENT,
            NUM_REQUESTS + 1,
            "Only 10 shadow requests; at least 11 are needed to judge agreement.",
        ),
        (
            True,
            0.95,
            NUM_REQUESTS,
            "Agreement with the champion 0.900 is under the minimum 0.950 over 10 requests.",
        ),
    ],
    ids=["not_blessed", "too_few_requests", "agreement_too_low"],
)
def test_the_champion_stays_when_a_gate_fails(
    setup: Setup, blessed: bool, min_agreement: float, min_requests: int, reason: str
) -> None:
    _record_shadow_traffic(setup.production_root())
    result = setup.materialize(
        blessed=blessed, min_shadow_agreement=min_agreement, min_shadow_requests=min_requests
    )
    assert [record.ref for record in setup.artifacts.alias_history(CHAMPION_EXPORT_ALIAS)] == [
        setup.champion_onnx
    ]
    check = _check(result)
    assert (check.passed, check.severity, check.description) == (False, dg.AssetCheckSeverity.WARN, reason)
    metadata = _metadata(result)
    assert (metadata["num_requests"], metadata["promoted"], metadata["decision"]) == (10, False, reason)
    assert result.asset_observations_for_node(SHADOW_REPORT) == [], "nothing promoted, nothing registered"
    assert metadata["agreement_rate"] == pytest.approx(0.9, abs=1e-12)


def test_no_shadow_statistics_yet_is_not_a_promotion(setup: Setup) -> None:
    result = setup.materialize(blessed=True, min_shadow_agreement=MIN_AGREEMENT, min_shadow_requests=1)
    reason = "Only 0 shadow requests; at least 1 are needed to judge agreement."
    stats = shadow_stats_path(setup.production_root().resolve())
    assert not stats.exists()
    assert setup.artifacts.get_alias(CHAMPION_EXPORT_ALIAS).ref == setup.champion_onnx
    check = _check(result)
    assert (check.passed, check.severity, check.description) == (False, dg.AssetCheckSeverity.WARN, reason)
    metadata = _metadata(result)
    assert metadata["agreement_rate"] == "no shadow traffic yet"
    assert (metadata["num_requests"], metadata["promoted"]) == (0, False)
    assert metadata["report"] == f"No shadow statistics at {stats} yet."


def test_an_export_withheld_by_its_parity_gate_is_never_promoted(setup: Setup) -> None:
    _record_shadow_traffic(setup.production_root())
    withheld = dataclasses.replace(setup, export=setup.export.model_copy(update={"published": False}))
    result = withheld.materialize(blessed=True, min_shadow_agreement=0.5, min_shadow_requests=1)
    assert [record.ref for record in setup.artifacts.alias_history(CHAMPION_EXPORT_ALIAS)] == [
        setup.champion_onnx
    ]
    check = _check(result)
    assert not check.passed
    assert "failed a parity gate" in check.description
    assert _metadata(result)["promoted"] is False
