"""Lead history -> point-in-time-correct features (batch and online share one definition)."""
