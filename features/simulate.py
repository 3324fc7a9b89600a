"""Seeded synthetic B2B funnel (placeholder: being written)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from features.history import LeadHistory


@dataclass(frozen=True)
class Simulation:
    """Attributes:
    history: the three lead-history tables, validated dtypes.
    truth: lead_id, transition, decision_time, true_probability (of converting within the
        default horizon, given only what happened before decision_time).
    metadata: parameters, seed, achieved rates, and each signal's true effect.
    """

    history: LeadHistory
    truth: pd.DataFrame
    metadata: dict = field(default_factory=dict)
