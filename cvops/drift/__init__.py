"""Drift detection core (no Dagster): image and model-output features, whylogs profiles, two-sample tests.

Modules: `features` (feature tables), `reference` (the stored reference sample), `policy` (thresholds and
the sensor's metadata keys; stdlib only), `stats` (tests, score, assessment), `profiles` (whylogs), `plots`
(histograms), `window` (all of it for one window), `whylogs_compat` (the only whylogs importer).
Kept empty of imports so `import cvops.drift` stays cheap for the Dagster code location.
"""
