"""Score a run's outputs against a synthetic world's truth, and the published baseline rule.

Entry points: :func:`moneytrail.evaluate.evaluator.evaluate` and
:func:`moneytrail.evaluate.baseline.baseline_flags`.
"""
