"""leadscore: learned lead-conversion probabilities next to hand-set scores."""

__version__ = "0.1.0"
