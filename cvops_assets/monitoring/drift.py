"""production_images, reference_profile and drift_profile: whylogs profiles and drift scores per window."""

import json
from pathlib import Path

import dagster as dg
import numpy as np

from cvops import __version__ as CODE_VERSION
from cvops.drift.windows import (
    feature_sidecar_files,
    flagged_for_review,
    load_window_features,
    load_window_pixels,
    window_files,
)
from cvops.images import decode_rgb
from cvops.io_utils import atomic_write_text, sha256_bytes
from cvops.refs import ExportRef, LabelsRef, ProfileRef, WindowRef
from cvops.viz import png_data_uri_markdown, thumbnail_grid_png
from cvops_assets.constants import (
    DRIFT_PROFILE,
    OWNER,
    PRODUCTION_IMAGES,
    REFERENCE_PROFILE,
)
from cvops_assets.metadata import table_value
from cvops_assets.monitoring.partitions import production_windows
from cvops_assets.types import ref_type
from resources.artifact_resource import ArtifactStoreResource
from resources.drift_policy import DriftPolicyResource
from resources.landing import LandingResource
from resources.version_store import VersionStoreResource

REFERENCE_SPLITS = ("val", "test")
THUMBNAILS = 24


@dg.asset(
    name=PRODUCTION_IMAGES,
    partitions_def=production_windows,
    dagster_type=ref_type(WindowRef),
    kinds={"python"},
    owners=[OWNER],
    code_version=CODE_VERSION,
    description="One production window: the images the service (or a camera drop) wrote into its folder, "
    "and the feature sidecars the service writes instead of images in its privacy log mode.",
)
def production_images(context: dg.AssetExecutionContext, landing: LandingResource) -> dg.MaterializeResult:
    window = context.partition_key
    folder = landing.window(window)
    files = window_files(folder)
    feature_files = feature_sidecar_files(folder)
    ref = WindowRef(
        window=window,
        folder=str(folder),
        files=tuple(files),
        num_flagged_for_review=flagged_for_review(folder, files),
        feature_files=tuple(feature_files),
    )
    first = [(folder / name).read_bytes() for name in files[:THUMBNAILS]]
    metadata = {
        "window": dg.MetadataValue.text(window),
        "folder": dg.MetadataValue.path(str(folder)),
        "num_images": dg.MetadataValue.int(len(files)),
        "num_feature_sidecars": dg.MetadataValue.int(len(feature_files)),
        "num_flagged_for_review": dg.MetadataValue.int(ref.num_flagged_for_review),
    }
    if first:
        metadata["thumbnails"] = dg.MetadataValue.md(png_data_uri_markdown(thumbnail_grid_png(first), window))
    listing = "\n".join(sorted(files + feature_files)).encode()
    return dg.MaterializeResult(
        value=ref, metadata=metadata, data_version=dg.DataVersion(sha256_bytes(listing))
    )


@dg.asset(
    name=REFERENCE_PROFILE,
    dagster_type=ref_type(ProfileRef),
    kinds={"python", "whylogs"},
    owners=[OWNER],
    code_version=CODE_VERSION,
    description="What production should look like: features and model outputs of the held-out images of the "
    "champion's training snapshot, profiled with whylogs.",
)
def reference_profile(
    labels: LabelsRef,
    edge_export: ExportRef,
    version_store: VersionStoreResource,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    from cvops.drift.profiles import load_profile, profile_features, profile_summary
    from cvops.drift.reference import build_reference
    from cvops.export.predictor import Predictor
    from cvops.labels.dataset import read_label_table

    store = version_store.store()
    artifacts = artifact_store.store()
    table = read_label_table(store, labels.labels_commit)
    held_out = table[table["split"].isin(REFERENCE_SPLITS)]
    pixels = [decode_rgb(store.read(labels.labels_commit, path)) for path in held_out["path"]]
    predictor = Predictor.from_onnx(artifacts.path_of(edge_export.onnx))
    reference = build_reference(_stack(pixels), predictor.predict_proba, predictor.classes)
    profile = profile_features(reference.features)
    ref = ProfileRef(
        profile=artifacts.put_bytes(profile, ".bin"),
        features=artifacts.put_bytes(reference.to_bytes(), ".npz"),
        num_images=len(reference.features),
        model_export=edge_export.onnx,
    )
    return dg.MaterializeResult(
        value=ref,
        metadata={
            "num_reference_images": dg.MetadataValue.int(ref.num_images),
            "splits": dg.MetadataValue.json(list(REFERENCE_SPLITS)),
            "model_version": dg.MetadataValue.text(predictor.model_version),
            "data_commit": dg.MetadataValue.text(labels.labels_commit),
            "profile_summary": dg.MetadataValue.json(profile_summary(load_profile(profile))),
        },
    )


@dg.asset(
    name=DRIFT_PROFILE,
    partitions_def=production_windows,
    dagster_type=ref_type(ProfileRef),
    kinds={"python", "whylogs"},
    owners=[OWNER],
    code_version=CODE_VERSION,
    description="A production window's whylogs profile and its drift against the reference: per-feature KS / "
    "chi-square tests with Holm correction and Hellinger distances, one drift score.",
)
def drift_profile(
    context: dg.AssetExecutionContext,
    production_images: WindowRef,
    reference_profile: ProfileRef,
    artifact_store: ArtifactStoreResource,
    drift_policy: DriftPolicyResource,
) -> dg.MaterializeResult:
    from cvops.drift.reference import DriftReference
    from cvops.drift.window import analyse_window
    from cvops.export.predictor import Predictor
    from cvops.serving.config import latest_drift_path

    artifacts = artifact_store.store()
    reference = DriftReference.from_bytes(artifacts.read_bytes(reference_profile.features))
    folder = Path(production_images.folder)
    pixels, unreadable = load_window_pixels(folder, list(production_images.files))
    logged, invalid_sidecars = load_window_features(folder, list(production_images.feature_files))
    predictor = (
        Predictor.from_onnx(artifacts.path_of(reference_profile.model_export))
        if reference_profile.model_export and pixels
        else None
    )
    result = analyse_window(
        reference,
        _stack(pixels),
        drift_policy.policy(),
        predictor.predict_proba if predictor else None,
        logged_features=logged,
    )
    assessment = result.assessment
    ref = ProfileRef(
        profile=artifacts.put_bytes(result.profile, ".bin"),
        features=artifacts.put_bytes(result.features.to_csv(index=False).encode(), ".csv"),
        num_images=len(result.features),
        model_export=reference_profile.model_export,
    )
    if assessment.status != "too_small":
        atomic_write_text(
            latest_drift_path(artifacts.root),
            json.dumps({"window": production_images.window, "drift_score": assessment.score}),
        )
    context.log.info(f"window {production_images.window}: {assessment.status}, score {assessment.score:.3f}")
    return dg.MaterializeResult(
        value=ref,
        metadata={
            **assessment.to_metadata(),
            "window": dg.MetadataValue.text(production_images.window),
            "num_unreadable": dg.MetadataValue.int(len(unreadable)),
            "num_logged_features": dg.MetadataValue.int(len(logged)),
            "num_invalid_feature_sidecars": dg.MetadataValue.int(len(invalid_sidecars)),
            "summary": dg.MetadataValue.text(assessment.summary()),
            "features": table_value(assessment.feature_table(top=12)),
            "histograms": dg.MetadataValue.md(png_data_uri_markdown(result.histograms_png, "worst features")),
        },
    )


def _stack(pixels: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """One array when every image has the same size (the fast path), else the list."""
    return np.stack(pixels) if pixels and len({p.shape for p in pixels}) == 1 else pixels
