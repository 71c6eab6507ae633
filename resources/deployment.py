"""How a blessed export reaches production: at once, or after proving itself in shadow mode."""

from typing import Literal

import dagster as dg
from pydantic import Field

from cvops.serving.config import CHALLENGER_EXPORT_ALIAS, CHAMPION_EXPORT_ALIAS


class DeploymentResource(dg.ConfigurableResource):
    """`immediate`: a blessed, parity-checked export is served at once. `shadow`: it is served beside the
    champion as the challenger, and `shadow_report` promotes it once it agreed often enough on live traffic."""

    promotion: Literal["immediate", "shadow"] = Field(default="immediate", description="How exports go live.")
    min_shadow_agreement: float = Field(default=0.95, description="Shadow agreement needed for promotion.")
    min_shadow_requests: int = Field(
        default=200, description="Shadow requests needed before judging agreement."
    )

    def publish_alias(self) -> str:
        """The alias a new blessed export is published under."""
        return CHAMPION_EXPORT_ALIAS if self.promotion == "immediate" else CHALLENGER_EXPORT_ALIAS
