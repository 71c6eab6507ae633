"""Validation of a trained model: metrics, calibration, slices, worst examples, report and blessing.

Importing this package is cheap (numpy only); torch and matplotlib load inside the functions that need them.
"""

from cvops.evaluation.report import EvaluationResult, WorstExample, evaluate, evaluate_predictions

__all__ = ["EvaluationResult", "WorstExample", "evaluate", "evaluate_predictions"]
