"""Scoring with the loaded champions: what is served and how it is loaded and reloaded, the
scorer, compiled trees, SHAP values and the reasons in words."""
