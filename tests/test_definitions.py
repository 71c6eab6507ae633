"""The code location: it loads, every job and sensor resolves, the catalogue is complete, lineage is intact,
and loading it imports none of the heavy ML libraries."""

import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import dagster as dg
import pytest

from cvops_assets import constants as c
from cvops_assets.definitions import defs, review_tool_for
from resources.labelling import LabelStudioReviewTool, ReviewToolResource

REPO_ROOT = Path(__file__).resolve().parents[1]
HEAVY_MODULES = (
    "torch",
    "lightning",
    "great_expectations",
    "whylogs",
    "onnxruntime",
    "openvino",
    "matplotlib",
    "scipy",
    "label_studio_sdk",
)
EXPECTED_GROUPS = {
    c.RAW_IMAGES: c.INGEST_GROUP,
    c.DATASET_SNAPSHOT: c.DATASET_GROUP,
    c.LABEL_REVIEW_QUEUE: c.DATASET_GROUP,
    c.LABELS: c.DATASET_GROUP,
    c.TRAINED_MODEL: c.TRAINING_GROUP,
    c.VALIDATION_REPORT: c.TRAINING_GROUP,
    c.EDGE_EXPORT: c.DEPLOYMENT_GROUP,
    c.PRODUCTION_IMAGES: c.MONITORING_GROUP,
    c.REFERENCE_PROFILE: c.MONITORING_GROUP,
    c.DRIFT_PROFILE: c.MONITORING_GROUP,
    c.MODEL_REGISTRY: c.DEPLOYMENT_GROUP,
}
LINEAGE_CHAIN = (
    c.EDGE_EXPORT,
    c.VALIDATION_REPORT,
    c.TRAINED_MODEL,
    c.LABELS,
    c.LABEL_REVIEW_QUEUE,
    c.DATASET_SNAPSHOT,
    c.RAW_IMAGES,
)


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return defs()


def test_definitions_load(definitions: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(definitions)


@pytest.mark.parametrize(
    "job_name", [c.INGEST_JOB, c.LIFECYCLE_JOB, c.DRIFT_INTAKE_JOB, c.DRIFT_JOB, c.RETRAIN_JOB]
)
def test_every_job_resolves_with_a_description(definitions: dg.Definitions, job_name: str) -> None:
    job = definitions.resolve_job_def(job_name)
    assert job.name == job_name
    assert job.description


def test_jobs_select_the_lifecycle_and_the_drift_assets(definitions: dg.Definitions) -> None:
    def selected(job_name: str) -> set[str]:
        return {
            key.to_user_string()
            for key in definitions.resolve_job_def(job_name).asset_layer.selected_asset_keys
        }

    lifecycle = {
        c.RAW_IMAGES,
        c.DATASET_SNAPSHOT,
        c.LABEL_REVIEW_QUEUE,
        c.LABELS,
        c.TRAINED_MODEL,
        c.VALIDATION_REPORT,
        c.EDGE_EXPORT,
        c.REFERENCE_PROFILE,
    }
    assert selected(c.LIFECYCLE_JOB) == lifecycle
    assert selected(c.DRIFT_INTAKE_JOB) == {c.RAW_IMAGES, c.DATASET_SNAPSHOT, c.LABEL_REVIEW_QUEUE}
    assert selected(c.INGEST_JOB) == {c.RAW_IMAGES, c.DATASET_SNAPSHOT}
    assert selected(c.DRIFT_JOB) == {c.PRODUCTION_IMAGES, c.DRIFT_PROFILE}
    assert selected(c.RETRAIN_JOB) == {
        c.LABEL_REVIEW_QUEUE,
        c.LABELS,
        c.TRAINED_MODEL,
        c.VALIDATION_REPORT,
        c.EDGE_EXPORT,
        c.REFERENCE_PROFILE,
    }
    assert definitions.resolve_job_def(c.DRIFT_JOB).partitions_def.name == c.PRODUCTION_WINDOWS


def test_sensors_resolve_and_target_their_jobs(definitions: dg.Definitions) -> None:
    targets = {
        "new_images_sensor": c.INGEST_JOB,
        "production_window_sensor": c.DRIFT_JOB,
        "drift_sensor": c.DRIFT_INTAKE_JOB,
        "reviews_sensor": c.RETRAIN_JOB,
    }
    for sensor_name, job_name in targets.items():
        sensor = definitions.resolve_sensor_def(sensor_name)
        assert sensor.job_name == job_name
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_catalogue_holds_every_lifecycle_asset_fully_described(definitions: dg.Definitions) -> None:
    specs = {spec.key.to_user_string(): spec for spec in definitions.resolve_all_asset_specs()}
    assert set(EXPECTED_GROUPS) <= set(specs)
    for name, group in EXPECTED_GROUPS.items():
        spec = specs[name]
        assert spec.group_name == group, name
        assert spec.kinds, name
        assert spec.description and len(spec.description) > 20, name
        assert spec.owners == [c.OWNER], name
        assert spec.code_version, name
    for name, spec in specs.items():
        assert spec.owners == [c.OWNER], name
        assert spec.code_version, name


def test_edge_export_traces_back_to_raw_images(definitions: dg.Definitions) -> None:
    graph = definitions.resolve_asset_graph()

    def parents(name: str) -> set[str]:
        return {key.to_user_string() for key in graph.get(dg.AssetKey(name)).parent_keys}

    for child, parent in pairwise(LINEAGE_CHAIN):
        assert parent in parents(child), f"{parent} is not upstream of {child}"
    upstream, frontier = set(), [c.EDGE_EXPORT]
    while frontier:
        for parent in parents(frontier.pop()) - upstream:
            upstream.add(parent)
            frontier.append(parent)
    assert upstream == {
        c.VALIDATION_REPORT,
        c.TRAINED_MODEL,
        c.LABELS,
        c.LABEL_REVIEW_QUEUE,
        c.DATASET_SNAPSHOT,
        c.RAW_IMAGES,
    }
    assert parents(c.RAW_IMAGES) == set()


def test_loading_the_code_location_is_light_and_uses_no_deprecated_dagster_api() -> None:
    """Loading runs in a fresh interpreter, so modules imported by other tests don't count, and every
    Dagster deprecation or supersession warning raised while building the definitions is an error."""
    script = (
        "import json, sys, warnings\n"
        "from pydantic.warnings import PydanticDeprecatedSince20\n"
        "warnings.simplefilter('error', DeprecationWarning)\n"
        "warnings.simplefilter('error', FutureWarning)\n"
        "warnings.simplefilter('ignore', PydanticDeprecatedSince20)\n"
        "import dagster as dg\n"
        "from cvops_assets.definitions import defs\n"
        "definitions = defs()\n"
        "dg.Definitions.validate_loadable(definitions)\n"
        "definitions.resolve_asset_graph()\n"
        f"print(json.dumps(sorted(m for m in {list(HEAVY_MODULES)!r} if m in sys.modules)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize(
    ("environment", "tool"),
    [
        (
            {"LABEL_STUDIO_URL": "http://127.0.0.1:8080", "LABEL_STUDIO_API_KEY": "secret-key"},
            LabelStudioReviewTool,
        ),
        ({"LABEL_STUDIO_URL": "http://127.0.0.1:8080"}, ReviewToolResource),
        ({"LABEL_STUDIO_API_KEY": "secret-key"}, ReviewToolResource),
        ({}, ReviewToolResource),
    ],
    ids=["url_and_key", "url_only", "key_only", "neither"],
)
def test_label_studio_is_used_when_its_url_and_key_are_set(
    environment: dict[str, str], tool: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    resource = review_tool_for(environment)
    assert type(resource) is tool
    if tool is LabelStudioReviewTool:
        # Read from the environment when the run starts: the key is never part of the config Dagster shows.
        assert "secret-key" not in json.dumps(resource._get_non_default_public_field_values(), default=str)
        with dg.build_resources({"review_tool": resource}) as built:
            assert (built.review_tool.url, built.review_tool.api_key) == (
                "http://127.0.0.1:8080",
                "secret-key",
            )
