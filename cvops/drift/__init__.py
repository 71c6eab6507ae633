"""Drift detection core (no Dagster): image and model-output features, whylogs profiles, two-sample tests.

Modules: `features` (feature tables), `reference` (the stored reference sample), `stats` (tests, policy,
assessment), `profiles` (whylogs), `plots` (histograms), `whylogs_compat` (the only whylogs importer).
Kept empty of imports so `import cvops.drift` stays cheap for the Dagster code location.
"""
