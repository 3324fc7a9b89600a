"""Watching a model after it ships: what the API scored (``store``) against the model's
training data (``training.profile``) and the outcomes known by now, week by week: population
stability, calibration on matured cohorts, score inflation; the alarms, report and gauges."""
