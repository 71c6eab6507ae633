"""The project's only importer of whylogs: import `why` (and friends) from here, never whylogs directly.

whylogs 1.6 is unmaintained and still refers to `np.unicode_`, which numpy 2 removed; it fails at the first
string column with an AttributeError. This module puts the alias back (it is `np.str_`, unchanged since numpy
1) and turns off whylogs' usage telemetry before whylogs is imported. Heavy: import it inside functions.
"""

import os
from types import ModuleType

import numpy as np

# whylogs reads this once, at import time.
os.environ["WHYLOGS_NO_ANALYTICS"] = "True"

# The only removed alias whylogs 1.6.4 touches (core/datatypes.py); restoring more would hide numpy-2 bugs
# elsewhere in the project.
if "unicode_" not in np.__dict__:
    np.unicode_ = np.str_

import whylogs as why
from whylogs.core import DatasetProfile, DatasetProfileView
from whylogs.core import errors as why_errors


def image_metric_module() -> ModuleType:
    """whylogs' own image profiling (`log_image`, `ImageMetricConfig`); needs only PIL, not the `image` extra."""
    from whylogs.extras import image_metric

    return image_metric


__all__ = ["DatasetProfile", "DatasetProfileView", "image_metric_module", "why", "why_errors"]
