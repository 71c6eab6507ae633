"""The project's Dagster instance config (`deploy/dagster.yaml`): the run queue that serialises lifecycle runs."""

import shutil
from pathlib import Path

INSTANCE_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml"


def prepare_dagster_home(home: Path) -> Path:
    """A DAGSTER_HOME using the project's instance config; a `dagster.yaml` already there is the user's and stays."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(INSTANCE_CONFIG, target)
    return home
