"""Where CVOps keeps its state on this machine."""

import os
from pathlib import Path

CVOPS_HOME_ENV = "CVOPS_HOME"
DEFAULT_CVOPS_HOME = ".cvops"


def cvops_home() -> Path:
    """The root of all local state: version store, artifacts, quarantine. `$CVOPS_HOME`, else `./.cvops`."""
    return Path(os.environ.get(CVOPS_HOME_ENV, DEFAULT_CVOPS_HOME)).resolve()
