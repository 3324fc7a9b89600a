"""When a lead converts: a discrete-time hazard per week at risk (censoring-aware), P(converting
within each horizon), its judgement against the oracle and the fixed-horizon classifier, and the
pipeline forecast that sums the open leads' chances per coming week and month."""
