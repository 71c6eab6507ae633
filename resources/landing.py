"""Where images come from: the landing folder, production windows, and how ingest judges a file."""

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from cvops.ingest import IngestState, Quarantine, ValidationLimits
from cvops.paths import cvops_home

LANDING_ENV = "CVOPS_LANDING"
PRODUCTION_ENV = "CVOPS_PRODUCTION"


class LandingResource(dg.ConfigurableResource):
    """The landing folder (`landing_dir`, else `$CVOPS_LANDING`, else `$CVOPS_HOME/landing`) and ingest limits."""

    landing_dir: str | None = Field(
        default=None, description="Folder of new images; overrides $CVOPS_LANDING."
    )
    production_dir: str | None = Field(
        default=None, description="Folder of production windows; overrides $CVOPS_PRODUCTION."
    )
    max_pixels: int = Field(
        default=40_000_000, description="Larger images are rejected as decompression bombs."
    )
    min_side: int = Field(default=8, description="Images with a smaller side are rejected as too small.")
    ingest_workers: int | None = Field(
        default=None,
        ge=1,
        description="Processes that decode and validate new files; default min(4, CPUs); 1 runs serially.",
    )
    ingest_dir: str | None = Field(
        default=None, description="Ingest state and quarantine; default $CVOPS_HOME/ingest."
    )

    def landing(self) -> Path:
        return Path(self.landing_dir or os.environ.get(LANDING_ENV) or cvops_home() / "landing").resolve()

    def production_root(self) -> Path:
        return Path(
            self.production_dir or os.environ.get(PRODUCTION_ENV) or cvops_home() / "production"
        ).resolve()

    def window(self, name: str) -> Path:
        return self.production_root() / name

    def limits(self) -> ValidationLimits:
        return ValidationLimits(max_pixels=self.max_pixels, min_side=self.min_side)

    def state(self) -> IngestState:
        return IngestState(Path(self.ingest_dir) / "state.sqlite" if self.ingest_dir else None)

    def quarantine(self) -> Quarantine:
        return Quarantine(Path(self.ingest_dir) / "quarantine" if self.ingest_dir else None)
