"""One transition's decision points prepared for the comparison: each rule's signal (its
points at one point per rule), the hand-set totals, and the time split into fit, train,
validation and test rows with their lengths in months. Computed once so the scorecard, the
capacity table and the rule table all read the same rows; pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import InputError
from features.build import TrainingSet
from features.history import LeadHistory
from training.rules import HandSetRules, score_leads
from training.split import time_split

DAYS_PER_MONTH = 30.4375


def unit_rules(rules: HandSetRules) -> HandSetRules:
    """The same rules at one point each, caps divided by the points: scores are the signals.

    Exact for touch rules too: clip(p x decayed count, -cap, cap) = p x clip(decayed count,
    -cap/|p|, cap/|p|). A rule with 0 hand-set points keeps its cap as a cap on the count.
    """
    unit = []
    for rule in rules.rules:
        update: dict[str, Any] = {"points": 1.0}
        cap = getattr(rule, "cap", None)
        if cap is not None and rule.points != 0:
            update["cap"] = cap / abs(rule.points)
        unit.append(rule.model_copy(update=update))
    return rules.model_copy(update={"rules": unit})


def months_between(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Length in months (at least one day), so volumes read as leads a month."""
    return max((end - start) / pd.Timedelta(days=1), 1.0) / DAYS_PER_MONTH


def rate(hits: np.ndarray) -> float:
    """Share of 1s; NaN for no rows, so an empty group never reads as 0 %."""
    return float(hits.mean()) if hits.size else math.nan


@dataclass(frozen=True)
class DecisionRows:
    """One transition's decision points with their signals, split by time (positions)."""

    frame: pd.DataFrame
    y: np.ndarray
    signal: np.ndarray
    hand_total: np.ndarray
    passes: np.ndarray
    fit: np.ndarray
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    months: dict[str, float]


def decision_rows(
    training_set: TrainingSet, history: LeadHistory, rules: HandSetRules, threshold: float
) -> DecisionRows:
    """Signals, hand-set totals and the time split; the older rows must hold both outcomes,
    or no scorecard can be fitted on them. ``threshold``: the hand-set points that decide this
    transition (``HandSetRules.threshold_for``), not always the hand-over threshold."""
    frame = training_set.frame.reset_index(drop=True)
    split = time_split(frame)
    y = frame["label"].to_numpy(dtype=float)
    fit = np.sort(np.r_[split.train.index, split.validation.index])
    if not 0 < y[fit].sum() < fit.size:
        raise InputError("the older rows need both converted and non-converted leads")
    points = pd.DataFrame({"lead_id": frame["lead_id"], "as_of": frame["decision_time"]})
    hand = score_leads(rules, points, history)
    t = pd.to_datetime(frame["decision_time"])
    validation_from, test_from = split.boundaries
    return DecisionRows(
        frame=frame,
        y=y,
        signal=score_leads(unit_rules(rules), points, history).points.to_numpy(),
        hand_total=hand.total.to_numpy(),
        passes=hand.total.to_numpy() >= threshold,
        fit=fit,
        train=np.sort(split.train.index.to_numpy()),
        validation=np.sort(split.validation.index.to_numpy()),
        test=np.sort(split.test.index.to_numpy()),
        months={
            "fit": months_between(t.min(), test_from),
            "validation": months_between(validation_from, test_from),
            "test": months_between(test_from, t.max()),
        },
    )
