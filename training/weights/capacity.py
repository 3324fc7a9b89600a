"""Capacity: how many leads sales can take a month, the thresholds that pass that volume for
each score (set on older rows, never on the test period), and each score judged on the test
period at its threshold and among its top ``capacity`` leads a month. Kept apart so the fair
comparison of the three scores is defined in one place; pure.
"""

from __future__ import annotations

import math

import numpy as np

from training.evaluate import cumulative_gain
from training.weights.export import POINTS_DECIMALS
from training.weights.results import CapacityRow
from training.weights.rows import DecisionRows, rate
from training.weights.scorecard import kth_largest

CURVE_POINTS = 120
RULES_AND_MODEL = "LightGBM on rules"  # LightGBM starting from the hand-set rules (the prior)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC; NaN when the test rows hold only one outcome (AUC is undefined then)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if 0 < y.sum() < y.size else math.nan


def capacity_scores(
    rows: DecisionRows,
    learned: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    capacity_per_month: float | None,
    with_rules: np.ndarray | None = None,
) -> tuple[float, float, dict[str, tuple[np.ndarray, float, str]]]:
    """(capacity, learned threshold, scores): each score on all rows with its threshold;
    ``with_rules``, the probability of LightGBM on the rules prior, is a score too when given.

    Without ``capacity_per_month`` sales takes what the hand-set threshold passed a month on the
    fit rows and the learned points keep the hand-set threshold; otherwise the learned threshold
    passes that volume on the fit rows. The model's cut is set on the validation rows (its own
    training rows would flatter it).
    """
    fit = rows.fit
    capacity_is_default = capacity_per_month is None
    capacity = (
        float(rows.passes[fit].sum()) / rows.months["fit"]
        if capacity_per_month is None
        else float(capacity_per_month)
    )
    learned_total = rows.signal @ learned
    learned_threshold = threshold
    if not capacity_is_default:
        cut = kth_largest(learned_total[fit], max(1, round(capacity * rows.months["fit"])))
        learned_threshold = math.floor(cut * 10**POINTS_DECIMALS) / 10**POINTS_DECIMALS
    k_validation = min(max(1, round(capacity * rows.months["validation"])), rows.validation.size)
    scores = {
        "hand-set points": (rows.hand_total, threshold, "points"),
        "learned points": (learned_total, learned_threshold, "points"),
        "LightGBM model": (
            probability,
            kth_largest(probability[rows.validation], k_validation),
            "probability",
        ),
    }
    if with_rules is not None:
        cut = kth_largest(with_rules[rows.validation], k_validation)
        scores[RULES_AND_MODEL] = (with_rules, cut, "probability")
    return capacity, learned_threshold, scores


def capacity_table(
    rows: DecisionRows, scores: dict[str, tuple[np.ndarray, float, str]], capacity: float
) -> tuple[list[CapacityRow], dict[str, dict[str, list[float]]]]:
    """Each score on the test rows: at its threshold, and among the top ``capacity`` a month."""
    y = rows.y[rows.test]
    months = rows.months["test"]
    k = min(round(capacity * months), y.size)
    table, curves = [], {}
    baseline = math.nan
    for method, (all_scores, cut, unit) in scores.items():
        score = all_scores[rows.test]
        passed = score >= cut - 1e-9  # sums of decimal points: allow rounding error
        contacted, captured = cumulative_gain(y, score)
        captured = np.nan_to_num(captured) * y.sum()
        at_capacity = float(captured[k])
        baseline = at_capacity if method == "hand-set points" else baseline
        table.append(
            CapacityRow(
                method=method,
                threshold=float(cut),
                threshold_unit=unit,
                passed=int(passed.sum()),
                passed_per_month=float(passed.sum() / months),
                conversions=int(y[passed].sum()),
                conversion_rate=rate(y[passed]),
                recall=float(y[passed].sum() / y.sum()) if y.sum() else math.nan,
                roc_auc=_auc(y, score),
                conversions_at_capacity=at_capacity,
                extra_conversions=at_capacity - baseline,
            )
        )
        keep = np.unique(np.linspace(0, y.size, CURVE_POINTS).round().astype(int))
        curves[method] = {
            "leads_per_month": np.round(contacted[keep] * y.size / months, 2).tolist(),
            "conversions": np.round(captured[keep], 2).tolist(),
        }
    return table, curves
