"""CVOps: the lifecycle of a computer-vision model; this package is the Dagster-free core."""

from importlib.metadata import version

# Every asset's code_version and every model's lineage name this release.
__version__ = version("cvops")
