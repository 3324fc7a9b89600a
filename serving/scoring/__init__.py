"""Scoring with the loaded champions: loading and reload, the scorer, compiled trees, SHAP and
reasons."""
