"""The drift reference: the exact feature sample of the training data plus what windows must reuse from it.

Stored as one npz (no pickles): one array per feature column, and a JSON member with the class order and the
output projection fitted on the reference. Windows are featurized through the same object, so the projection
is never refitted on production data.
"""

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvops.drift.features import OutputProjection, PredictProba, drift_features, fit_output_projection
from cvops.errors import FeatureTableDecodeError

_ATTRS_MEMBER = "__attrs__"
_COLUMN_PREFIX = "col:"
DEFAULT_PROJECTION_COMPONENTS = 3


@dataclass(frozen=True)
class DriftReference:
    """Reference feature table, and (when a model was used) its class order and output projection."""

    features: pd.DataFrame
    classes: tuple[str, ...] = ()
    projection: OutputProjection | None = None

    def window_features(self, pixels: np.ndarray, predict_proba: PredictProba | None = None) -> pd.DataFrame:
        """Features of a production window, computed exactly like the reference's (same projection)."""
        if predict_proba is None or not self.classes:
            return drift_features(pixels)
        return drift_features(pixels, predict_proba, self.classes, self.projection)

    def to_bytes(self) -> bytes:
        arrays = {
            f"{_COLUMN_PREFIX}{name}": _column_array(self.features[name]) for name in self.features.columns
        }
        attrs = {
            "columns": list(self.features.columns),
            "classes": list(self.classes),
            "projection": None if self.projection is None else self.projection.to_dict(),
        }
        arrays[_ATTRS_MEMBER] = np.array(json.dumps(attrs))
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "DriftReference":
        """Inverse of `to_bytes`; FeatureTableDecodeError if the bytes are not a stored drift reference."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                attrs = json.loads(str(archive[_ATTRS_MEMBER]))
                columns = {name: archive[f"{_COLUMN_PREFIX}{name}"] for name in attrs["columns"]}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise FeatureTableDecodeError(
                f"{len(data)} bytes are not a drift reference ({error}); pass bytes made by DriftReference.to_bytes"
            ) from error
        projection = attrs["projection"]
        return cls(
            features=pd.DataFrame({name: _from_array(values) for name, values in columns.items()}),
            classes=tuple(attrs["classes"]),
            projection=None if projection is None else OutputProjection.from_dict(projection),
        )


def build_reference(
    pixels: np.ndarray,
    predict_proba: PredictProba | None = None,
    classes: Sequence[str] = (),
    components: int = DEFAULT_PROJECTION_COMPONENTS,
) -> DriftReference:
    """Featurize reference images (uint8 NHWC); with a model, fit the output projection on its probabilities."""
    if predict_proba is None:
        return DriftReference(features=drift_features(pixels))
    probs = np.asarray(predict_proba(pixels))
    projection = fit_output_projection(probs, components)
    features = drift_features(pixels, lambda _: probs, classes, projection)
    return DriftReference(features=features, classes=tuple(classes), projection=projection)


def _column_array(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype=np.float64)
    return column.astype(str).to_numpy(dtype=np.str_)


def _from_array(values: np.ndarray) -> np.ndarray | pd.Series:
    return pd.Series(values.astype(object), dtype=str) if values.dtype.kind == "U" else values
