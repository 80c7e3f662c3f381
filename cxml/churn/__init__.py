"""Churn risk: the model (estimator), its baselines and its evaluation."""
