"""shadow_report: how the challenger fared beside the champion on live traffic, and its promotion gate."""

import dagster as dg

from cvops import __version__ as CODE_VERSION
from cvops.refs import ExportRef, ReportRef
from cvops_assets.constants import OWNER, SHADOW_REPORT
from cvops_assets.deployment.registry import record_promotion
from resources.artifact_resource import ArtifactStoreResource
from resources.deployment import DeploymentResource
from resources.landing import LandingResource

SHADOW_PROMOTION = "shadow_promotion"


@dg.asset(
    name=SHADOW_REPORT,
    kinds={"python", "sqlite"},
    owners=[OWNER],
    code_version=CODE_VERSION,
    description="Agreement of the challenger export with the champion on shadowed requests, disagreements by "
    "class pair, confidence and latency; promotes the challenger once it is blessed and agreed often enough.",
    check_specs=[
        dg.AssetCheckSpec(
            SHADOW_PROMOTION,
            asset=SHADOW_REPORT,
            description="The shadowed challenger is blessed and agrees with the champion on enough requests "
            "to be promoted.",
        )
    ],
)
def shadow_report(
    context: dg.AssetExecutionContext,
    edge_export: ExportRef,
    validation_report: ReportRef,
    landing: LandingResource,
    artifact_store: ArtifactStoreResource,
    deployment: DeploymentResource,
) -> dg.MaterializeResult:
    from cvops.serving.config import CHAMPION_EXPORT_ALIAS, shadow_stats_path
    from cvops.serving.shadow_report import build_shadow_report, promotion_decision

    version = edge_export.model_sha256[:12]
    stats = shadow_stats_path(landing.production_root())
    report = build_shadow_report(stats) if stats.is_file() else None
    challenger = report.for_challenger(version) if report else None
    decision = promotion_decision(
        validation_report.blessed,
        challenger.agreement_rate if challenger else None,
        challenger.num_requests if challenger else 0,
        deployment.min_shadow_agreement,
        deployment.min_shadow_requests,
        export_published=edge_export.published,
    )
    artifacts = artifact_store.store()
    served = artifacts.get_alias(CHAMPION_EXPORT_ALIAS)
    if decision.promote and (served is None or served.ref != edge_export.onnx):
        promoted = artifacts.set_alias(
            CHAMPION_EXPORT_ALIAS,
            edge_export.onnx,
            {"run_id": context.run.run_id, "model_version": version, "reason": decision.reason},
        )
        record_promotion(
            context,
            promoted,
            served,
            {
                "agreement_rate": challenger.agreement_rate if challenger else None,
                "num_requests": challenger.num_requests if challenger else 0,
                "accuracy": validation_report.accuracy,
                "reason": decision.reason,
            },
        )
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name=SHADOW_PROMOTION,
                passed=decision.promote,
                severity=dg.AssetCheckSeverity.WARN,
                description=decision.reason,
            )
        ],
        metadata={
            "challenger_version": dg.MetadataValue.text(version),
            "num_requests": dg.MetadataValue.int(challenger.num_requests if challenger else 0),
            "agreement_rate": challenger.agreement_rate if challenger else "no shadow traffic yet",
            "promoted": dg.MetadataValue.bool(decision.promote),
            "decision": dg.MetadataValue.text(decision.reason),
            "report": dg.MetadataValue.md(
                report.markdown() if report else f"No shadow statistics at {stats} yet."
            ),
        },
    )
