"""Gates that withhold: a failed parity gate leaves champion_export where it was and stops what depends on the
export; a missing OpenVINO runtime is a skipped (not passed) check that does not withhold the ONNX export."""

import sys

import dagster as dg
import pytest
from explicit_roots import ExportRun, run_lifecycle

from cvops.export.openvino_export import openvino_unavailable_reason
from cvops_assets.constants import CHAMPION_EXPORT_ALIAS, EDGE_EXPORT, REFERENCE_PROFILE
from cvops_assets.definitions import build_definitions
from cvops_assets.deployment.edge_export import ONNX_PARITY, OPENVINO_PARITY
from jobs import LIFECYCLE

EXPORT_AND_DOWNSTREAM = LIFECYCLE & dg.AssetSelection.assets(EDGE_EXPORT).downstream()


def export_again(export_run: ExportRun, **edge_export_config: object) -> ExportRun:
    """edge_export and what depends on it in lifecycle_job, again, on the refs the first run left."""
    keys = EXPORT_AND_DOWNSTREAM.resolve(build_definitions(export_run.resources).resolve_asset_graph())
    result = run_lifecycle(
        export_run.resources,
        export_run.instance,
        {},
        edge_export_config=edge_export_config,
        asset_selection=list(keys),
        raise_on_error=False,
    )
    return ExportRun(export_run.resources, export_run.instance, result, export_run.refs_dir)


def materialized(run: ExportRun) -> set[str]:
    return {event.asset_key.to_user_string() for event in run.result.get_asset_materialization_events()}


def steps_started(run: ExportRun) -> set[str]:
    """Dagster abandons a step whose dependency failed without an event, so the absent start is the proof."""
    started = dg.DagsterEventType.STEP_START
    return {event.step_key for event in run.result.all_events if event.event_type == started}


def test_reference_profile_is_what_depends_on_the_export_in_the_lifecycle(export_run: ExportRun) -> None:
    graph = build_definitions(export_run.resources).resolve_asset_graph()
    assert EXPORT_AND_DOWNSTREAM.resolve(graph) == {dg.AssetKey(EDGE_EXPORT), dg.AssetKey(REFERENCE_PROFILE)}


def test_failed_onnx_parity_keeps_the_previous_export_and_stops_downstream(export_run: ExportRun) -> None:
    first_diff = export_run.check(ONNX_PARITY).metadata["max_abs_diff"].value
    assert first_diff > 0.0, "a zero tolerance fails the gate only when ONNX and PyTorch differ at all"
    before = export_run.artifacts.alias_history(CHAMPION_EXPORT_ALIAS)

    assert export_run.export_ref().published
    failed = export_again(export_run, parity_tolerance=0.0)

    check = failed.check(ONNX_PARITY)
    assert not failed.result.success
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert check.metadata["tolerance"].value == 0.0
    assert check.metadata["max_abs_diff"].value == first_diff
    assert (failed.metadata(EDGE_EXPORT)["published"], failed.metadata(EDGE_EXPORT)["published_as"]) == (
        False,
        "not published",
    )
    assert failed.artifacts.alias_history(CHAMPION_EXPORT_ALIAS) == before
    assert not failed.export_ref().published, "shadow_report must be able to tell the rejected export apart"
    assert failed.artifacts.get_alias(CHAMPION_EXPORT_ALIAS).ref == before[-1].ref
    assert before[-1].info["run_id"] != failed.result.run_id
    assert materialized(failed) == {EDGE_EXPORT}
    assert failed.result.get_failed_step_keys() == {EDGE_EXPORT}
    assert steps_started(failed) == {EDGE_EXPORT}


def test_failed_openvino_parity_withholds_the_export_although_onnx_passed(export_run: ExportRun) -> None:
    assert openvino_unavailable_reason() is None, "`make test` installs the openvino extra"
    first_diff = export_run.check(OPENVINO_PARITY).metadata["max_abs_diff"].value
    assert first_diff > 0.0, "a zero tolerance fails the gate only when OpenVINO and PyTorch differ at all"
    before = export_run.artifacts.alias_history(CHAMPION_EXPORT_ALIAS)

    failed = export_again(export_run, openvino_parity_tolerance=0.0)

    assert failed.check(ONNX_PARITY).passed
    check = failed.check(OPENVINO_PARITY)
    assert (check.passed, check.severity, check.metadata["tolerance"].value) == (
        False,
        dg.AssetCheckSeverity.ERROR,
        0.0,
    )
    assert not failed.result.success
    assert failed.metadata(EDGE_EXPORT)["published_as"] == "not published"
    assert not failed.export_ref().published
    assert failed.artifacts.alias_history(CHAMPION_EXPORT_ALIAS) == before
    assert steps_started(failed) == {EDGE_EXPORT}


def test_missing_openvino_is_a_skipped_check_and_the_onnx_export_still_moves_the_alias(
    export_run: ExportRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A None entry makes `import openvino` fail, exactly as an environment without the package does.
    monkeypatch.setitem(sys.modules, "openvino", None)
    reason = openvino_unavailable_reason()
    assert reason is not None

    run = export_again(export_run)

    check = run.check(OPENVINO_PARITY)
    metadata = run.metadata(EDGE_EXPORT)
    ref = run.export_ref()
    alias = run.artifacts.get_alias(CHAMPION_EXPORT_ALIAS)
    assert run.result.success
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert {key: value.value for key, value in check.metadata.items()} == {"skipped": True, "reason": reason}
    assert check.description == reason
    assert run.check(ONNX_PARITY).passed
    assert (metadata["openvino_skipped"], metadata["openvino_skip_reason"]) == (True, reason)
    assert not any(name.startswith("openvino/") for name in ref.files)
    assert (metadata["published"], metadata["published_as"]) == (True, CHAMPION_EXPORT_ALIAS)
    assert (alias.ref, alias.info["run_id"]) == (ref.onnx, run.result.run_id)
    assert materialized(run) == {EDGE_EXPORT, REFERENCE_PROFILE}
