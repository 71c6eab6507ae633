"""whylogs profiles of drift feature tables: serialize, load back, and summarise for asset metadata.

The profile is the compact, mergeable record of a window (KLL quantile sketches, frequent items, counts);
the lead stores its bytes in the artifact store. Statistical tests use the exact reference sample instead
(see `cvops.drift.stats`).
"""

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from cvops.errors import ProfileDecodeError

if TYPE_CHECKING:
    from cvops.drift.whylogs_compat import DatasetProfileView

_SUMMARY_QUANTILES = ("q_05", "q_25", "median", "q_75", "q_95")
_TOP_CATEGORIES = 10


def profile_features(features: pd.DataFrame) -> bytes:
    """Serialized whylogs profile (`why.log(df).view().serialize()`) of a feature table."""
    from cvops.drift.whylogs_compat import why

    return why.log(features).view().serialize()


def load_profile(data: bytes) -> "DatasetProfileView":
    """The profile view back from `profile_features` bytes; ProfileDecodeError if they are not a profile."""
    from cvops.drift.whylogs_compat import DatasetProfileView, why_errors

    try:
        return DatasetProfileView.deserialize(data)
    except why_errors.DeserializationError as error:
        raise ProfileDecodeError(
            f"{len(data)} bytes are not a whylogs profile ({error}); pass bytes made by profile_features"
        ) from error


def profile_summary(view: "DatasetProfileView") -> dict[str, dict[str, Any]]:
    """Per column: `count`, `null_count`; numeric columns add `mean`, `stddev`, `min`, quantiles, `max`;
    string columns add `top_categories` ({value: estimated count}, the 10 most frequent).

    JSON-ready: NaN and infinities (e.g. the mean of a string column) are left out.
    """
    summary: dict[str, dict[str, Any]] = {}
    for name, column in sorted(view.get_columns().items()):
        counts = column.get_metric("counts").to_summary_dict()
        entry: dict[str, Any] = {"count": int(counts["n"]), "null_count": int(counts["null"])}
        frequent = column.get_metric("frequent_items")
        types = column.get_metric("types").to_summary_dict()
        if frequent is not None and types["string"] > 0:
            items = frequent.to_summary_dict()["frequent_strings"][:_TOP_CATEGORIES]
            entry["top_categories"] = {item.value: int(item.est) for item in items}
        else:
            distribution = column.get_metric("distribution").to_summary_dict()
            for key in ("mean", "stddev", "min", *_SUMMARY_QUANTILES, "max"):
                value = distribution.get(key)
                if value is not None and math.isfinite(value):
                    entry[key] = float(value)
        summary[name] = entry
    return summary
