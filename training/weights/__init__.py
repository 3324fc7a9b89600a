"""Learned vs hand-set points, rule by rule: the comparison (``compare``) and its steps; ``report``
shows it."""
