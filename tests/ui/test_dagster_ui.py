"""The Dagster UI over an instance where the lifecycle ran, driven in Debian's Chromium (issue 10.1).

Assertions read what the UI renders (asset names, metadata values, check and sensor names) and, for lineage,
also the webserver's own GraphQL answer, walked from edge_export back to raw_images.
"""

from collections import deque
from itertools import pairwise
from pathlib import Path
from typing import Any

from lifecycle_instance import LifecycleInstance

LIFECYCLE_ASSETS = (
    "raw_images",
    "dataset_snapshot",
    "labels",
    "label_review_queue",
    "trained_model",
    "validation_report",
    "edge_export",
    "reference_profile",
    "production_images",
    "drift_profile",
)
EDGE_EXPORT_UPSTREAM = {
    "validation_report",
    "trained_model",
    "labels",
    "label_review_queue",
    "dataset_snapshot",
    "raw_images",
}
# One chain of direct dependencies from the export back to the landing images.
MODEL_LINEAGE = ("edge_export", "trained_model", "labels", "dataset_snapshot", "raw_images")
ASSET_NODES_QUERY = "query { assetNodes { assetKey { path } dependencyKeys { path } } }"


def _asset_name(key: dict[str, list[str]]) -> str:
    return "/".join(key["path"])


def _upstream(dependencies: dict[str, list[str]], start: str) -> set[str]:
    """Every asset `start` depends on, directly or transitively (breadth first over dependency keys)."""
    seen: set[str] = set()
    queue = deque([start])
    while queue:
        for parent in dependencies.get(queue.popleft(), []):
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return seen


def test_asset_graph_shows_every_lifecycle_asset(page: Any, screenshot_dir: Path) -> None:
    page.goto("/asset-groups")
    page.get_by_text("Global asset lineage", exact=True).wait_for()
    for group in ("ingest", "dataset", "training", "deployment", "monitoring"):
        page.get_by_text(group, exact=True).first.wait_for()
    # The global graph starts with its groups collapsed; ⌥E is its "Expand all groups" shortcut.
    page.keyboard.press("Alt+e")
    for asset in LIFECYCLE_ASSETS:
        page.get_by_text(asset, exact=True).first.wait_for(state="visible")
    page.screenshot(path=str(screenshot_dir / "asset_graph.png"))


def test_edge_export_lineage_leads_back_to_raw_images(page: Any, screenshot_dir: Path) -> None:
    page.goto("/assets/edge_export?view=lineage&lineageScope=upstream&lineageDepth=10")
    for asset in ("edge_export", *EDGE_EXPORT_UPSTREAM):
        page.get_by_text(asset, exact=True).first.wait_for(state="visible")
    page.screenshot(path=str(screenshot_dir / "edge_export_lineage.png"))

    answer = page.evaluate(
        """async (query) => {
            const response = await fetch("/graphql", {
                method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify({query}),
            });
            return await response.json();
        }""",
        ASSET_NODES_QUERY,
    )
    nodes = answer["data"]["assetNodes"]
    dependencies = {
        _asset_name(node["assetKey"]): [_asset_name(key) for key in node["dependencyKeys"]] for node in nodes
    }
    assert set(LIFECYCLE_ASSETS) <= set(dependencies)
    assert _upstream(dependencies, "edge_export") >= EDGE_EXPORT_UPSTREAM
    for child, parent in pairwise(MODEL_LINEAGE):
        assert parent in dependencies[child], f"{child} should depend on {parent}: {dependencies[child]}"
    assert dependencies["raw_images"] == []


def test_trained_model_page_shows_data_commit_and_metrics(
    page: Any, lifecycle_instance: LifecycleInstance, screenshot_dir: Path
) -> None:
    metadata = lifecycle_instance.model_metadata
    page.goto("/assets/trained_model")
    page.get_by_text(lifecycle_instance.data_commit, exact=True).wait_for(state="visible")
    page.get_by_text("data_commit", exact=True).wait_for(state="visible")
    page.get_by_text(metadata["model_sha256"], exact=True).wait_for(state="visible")
    page.screenshot(path=str(screenshot_dir / "trained_model.png"))
    # The UI prints floats as JavaScript does: 1.0 as "1".
    val_accuracy = page.get_by_text(f"{metadata['val_accuracy']:.4g}", exact=True).first
    val_accuracy.scroll_into_view_if_needed()
    val_accuracy.wait_for(state="visible")
    page.get_by_text("val_accuracy", exact=True).wait_for(state="visible")
    page.screenshot(path=str(screenshot_dir / "trained_model_metrics.png"))
    assert len(lifecycle_instance.data_commit) == 64
    assert 0.9 <= metadata["val_accuracy"] <= 1.0


def test_asset_checks_and_drift_sensor_are_listed(page: Any, screenshot_dir: Path) -> None:
    for asset, check in (("validation_report", "model_blessed"), ("edge_export", "onnx_parity")):
        page.goto(f"/assets/{asset}?view=checks")
        page.get_by_text(check, exact=True).first.wait_for(state="visible")
        page.get_by_text("Succeeded", exact=True).first.wait_for(state="visible")
        page.screenshot(path=str(screenshot_dir / f"{asset}_checks.png"))
    page.goto("/automation")
    for sensor in ("drift_sensor", "new_images_sensor", "production_window_sensor"):
        page.get_by_text(sensor, exact=True).first.wait_for(state="visible")
    page.screenshot(path=str(screenshot_dir / "automation.png"))


def test_validation_report_shows_tables_rounded_numbers_and_curves(
    page: Any, lifecycle_instance: LifecycleInstance, screenshot_dir: Path
) -> None:
    page.goto("/assets/validation_report")
    for table, header in (
        ("per_class_table", "precision"),
        ("confusion_matrix_table", "true \\ predicted"),
        ("slices_table", "property"),
    ):
        page.get_by_text(table, exact=True).first.wait_for(state="visible")
        page.locator("th", has_text=header).first.wait_for(state="visible")
    page.screenshot(path=str(screenshot_dir / "validation_report.png"), full_page=True)
    body = page.inner_text("body")
    assert "| class |" not in body and "|---" not in body
    accuracy = lifecycle_instance.report_metadata["accuracy"]
    assert len(repr(accuracy)) <= len("0.1234"), accuracy
    page.get_by_text(f"{accuracy:.4g}", exact=True).first.wait_for(state="visible")

    page.goto("/assets/trained_model")
    page.get_by_text("training_curves", exact=True).first.wait_for(state="visible")
    page.locator("td", has_text="val loss").first.wait_for(state="visible")
    page.screenshot(path=str(screenshot_dir / "trained_model_curves.png"), full_page=True)


def test_checks_explain_themselves(page: Any, screenshot_dir: Path) -> None:
    page.goto("/assets/validation_report?view=checks")
    page.get_by_text("This is a blocking asset check.", exact=False).first.wait_for(state="visible")
    page.get_by_text("The challenger reaches", exact=False).first.wait_for(state="visible")
    page.goto("/assets/labels?view=checks")
    page.get_by_text("no_split_leakage", exact=True).first.click()
    page.get_by_text("No image (same bytes) is in more than one split.", exact=False).first.wait_for(
        state="visible"
    )
    page.screenshot(path=str(screenshot_dir / "labels_checks.png"))
