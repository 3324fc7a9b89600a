"""Per-rule judgement: whether a rule's hand-set points are supported by what the data learned
(verdict, flag, one sentence for a marketer) and the per-rule table of ``RuleWeight`` rows. Kept
apart so the wording and tolerances change in one place; pure.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from training.rules import HandSetRules
from training.weights.export import POINTS_DECIMALS
from training.weights.results import RuleWeight
from training.weights.rows import DecisionRows, rate
from training.weights.scorecard import Scorecard

MIN_FIRES = 30  # a rule firing on fewer fit rows is not judged; its points stay as they are


def size_tolerance(hand_set_points: float) -> float:
    """Differences smaller than this are not worth changing a rule for (in points)."""
    return max(2.0, 0.25 * abs(hand_set_points))


def verdict(
    hand_set: float, learned: float, lower: float, upper: float, fires_rows: int
) -> tuple[str, bool]:
    """(verdict, flagged): flagged when the data contradicts the rule's sign or size."""
    if fires_rows < MIN_FIRES:
        return "too rare to judge", False
    if not (math.isfinite(lower) and math.isfinite(upper)):  # no bootstrap: judge the size only
        lower = upper = learned
    contains_zero = lower <= 0 <= upper
    if hand_set == 0:
        return ("not in use", False) if contains_zero else ("data suggests points", True)
    if (hand_set > 0 and upper < 0) or (hand_set < 0 and lower > 0):
        return "wrong sign", True
    if lower <= hand_set <= upper or abs(learned - hand_set) < size_tolerance(hand_set):
        return ("uncertain", False) if contains_zero else ("supported", False)
    if contains_zero:
        return "no effect found", True
    return ("too strong", True) if abs(hand_set) > abs(learned) else ("too weak", True)


def explanation(rule: dict[str, Any]) -> str:
    """One sentence per verdict, in points, so a marketer can act without reading the table."""
    h, lp = f"{rule['hand_set_points']:g}", f"{rule['learned_points']:+.1f}"
    lower, upper = rule["learned_lower"], rule["learned_upper"]
    band = (
        f"{lower:+.1f} to {upper:+.1f}"
        if math.isfinite(lower) and math.isfinite(upper)
        else "no interval: no bootstrap"
    )
    return {
        "too rare to judge": f"Fires on only {rule['fires_rows']} leads: too few to judge; "
        f"the hand-set {h} points are kept.",
        "not in use": f"Scores 0 points today and the data finds no clear effect ({band}).",
        "data suggests points": f"Scores 0 points today, but the data supports {lp} ({band}).",
        "wrong sign": f"Set to {h} by hand, but with the other rules counted the data supports "
        f"{lp} ({band}).",
        "no effect found": f"With the other rules counted it adds nothing clear: {lp} "
        f"({band}) instead of {h}.",
        "too strong": f"Worth about {lp} points ({band}): weaker than the {h} set by hand.",
        "too weak": f"Worth about {lp} points ({band}): stronger than the {h} set by hand.",
        "uncertain": f"The data cannot tell: {band} holds both 0 and the hand-set {h}.",
        "supported": f"The data agrees: {lp} points ({band}) against {h} set by hand.",
    }[rule["verdict"]]


def rule_rows(
    rows: DecisionRows,
    rules: HandSetRules,
    card: Scorecard,
    learned: np.ndarray,
    view: dict[str, Any],
) -> list[RuleWeight]:
    """One ``RuleWeight`` per rule, in file order: what the fit rows show, the learned points
    with their interval, the model's view, and the verdict drawn from them."""
    signal, y = rows.signal[rows.fit], rows.y[rows.fit]
    out = []
    for r, rule in enumerate(rules.rules):
        fires = signal[:, r] != 0
        shap_fires, shap_not, signal_fires = view["per_rule"][r]
        row = {
            "name": rule.name,
            "kind": rule.kind,
            "description": rule.description or "",
            "fires_share": float(fires.mean()),
            "fires_rows": int(fires.sum()),
            "conversion_when_fires": rate(y[fires]),
            "conversion_when_not": rate(y[~fires]),
            "mean_signal_when_fires": float(signal[fires, r].mean()) if fires.any() else math.nan,
            "hand_set_points": float(rule.points),
            "learned_points": float(learned[r]),
            # rounded as shown, so a verdict never contradicts the printed interval
            "learned_lower": round(float(card.lower[r]), POINTS_DECIMALS),
            "learned_upper": round(float(card.upper[r]), POINTS_DECIMALS),
            "log_odds_per_signal": float(card.coef[r]),
            "model_shap_when_fires": shap_fires,
            "model_shap_when_not": shap_not,
            "model_points": card.scale * (shap_fires - shap_not) / signal_fires
            if signal_fires
            else math.nan,
            "related_features": view["related"][r],
        }
        row["verdict"], row["flagged"] = verdict(
            row["hand_set_points"],
            float(card.points[r]),
            row["learned_lower"],
            row["learned_upper"],
            row["fires_rows"],
        )
        row["explanation"] = explanation(row)
        out.append(RuleWeight(**row))
    return out
