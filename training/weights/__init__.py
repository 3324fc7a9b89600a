"""Learned vs hand-set points, rule by rule: the comparison (``compare``) and its steps;
``report`` renders and publishes it."""
