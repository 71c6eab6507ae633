import dagster as dg

from cvops_assets.constants import PRODUCTION_WINDOWS

production_windows = dg.DynamicPartitionsDefinition(name=PRODUCTION_WINDOWS)
