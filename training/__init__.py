"""Hand-set baseline, LightGBM models, evaluation and MLflow tracking."""
