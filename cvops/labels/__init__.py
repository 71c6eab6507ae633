"""Labels: the four label sources, validation, splits, data-quality gates and semi-automatic labelling.

Dagster-free. `cvops.labels.quality` imports Great Expectations inside its functions, so importing this package
stays fast.
"""
