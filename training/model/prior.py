"""The team's hand-set rules as the learned model's starting point: its prior.

With a few dozen conversions a learned model barely beats chance, while the hand-set points
already rank leads. So the model starts from them: the rule score, calibrated to log-odds on
the training rows (``a + b x hand_set_points``, a logistic fit), is LightGBM's initial score
(``init_score``) and the trees learn only the correction. Below a minimum of conversions no
tree is grown at all and the calibrated rule score alone predicts.

Pure functions and one frozen dataclass: ``training.model`` fits and applies the prior,
``training.selection`` decides on validation rows whether it is used and how strongly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from core.rules_file import AttributeRule, HandSetRules, TouchRule
from features.definitions import TOUCH_DIMENSIONS
from features.window import WINDOWS

HAND_SET_POINTS = "hand_set_points"  # the input column of the rule score
RULES_CONTRIBUTION = "your_rules"  # the prior's share of a lead's log-odds, beside the features
PRIOR_L2 = 1.0  # inverse L2 strength on the standardised slope: matters only for a few rows
_TREES_EPS = 1e-15  # the trees' probability is kept off 0 and 1 before taking its log-odds


@dataclass(frozen=True)
class RulesPrior:
    """The hand-set score as log-odds, fitted on training rows.

    Attributes:
        intercept, slope: calibrated log-odds = intercept + slope x hand-set points.
        strength: how far the starting log-odds follow the rules: 1 fully, 0.5 halfway from
            the training base rate (``base_logit``) to the calibrated rule score.
        base_logit: log-odds of the training rows' conversion rate.
        mean_logit: the prior's mean log-odds on the training rows. It is the prior's share of
            the model's bias, so the contribution "your rules" is centred as SHAP values are.
        rows, converted: rows it was fitted on and the converted among them.
    """

    intercept: float
    slope: float
    strength: float
    base_logit: float
    mean_logit: float
    rows: int
    converted: int

    @classmethod
    def fit(cls, points: np.ndarray, y: np.ndarray, strength: float = 1.0) -> RulesPrior:
        """Logistic fit of the outcome on the points (standardised, with a weak L2 penalty so a
        handful of rows that the points separate does not give an infinite slope)."""
        points = np.asarray(points, dtype=np.float64)
        y = np.asarray(y)
        converted = int(y.sum())
        if not 0 < converted < y.size:
            raise ValueError("the rules prior needs converted and unconverted rows to calibrate")
        if not 0 <= strength <= 1:
            raise ValueError(f"prior strength must lie in [0, 1], got {strength}")
        base_logit = math.log(converted / (y.size - converted))
        centre, spread = float(points.mean()), float(points.std())
        if spread > 0:
            fitted = LogisticRegression(C=PRIOR_L2).fit(
                ((points - centre) / spread).reshape(-1, 1), y
            )
            slope = float(fitted.coef_[0, 0]) / spread
            intercept = float(fitted.intercept_[0]) - slope * centre
        else:  # every row has the same points: they say nothing beyond the base rate
            slope, intercept = 0.0, base_logit
        prior = cls(intercept, slope, float(strength), base_logit, 0.0, int(y.size), converted)
        return prior.with_mean(float(prior.logit(points).mean()))

    def with_mean(self, mean_logit: float) -> RulesPrior:
        return RulesPrior(**{**asdict(self), "mean_logit": mean_logit})

    def logit(self, points: np.ndarray) -> np.ndarray:
        """The starting log-odds of rows with these hand-set points."""
        calibrated = self.intercept + self.slope * np.asarray(points, dtype=np.float64)
        return self.base_logit + self.strength * (calibrated - self.base_logit)

    def contribution(self, points: np.ndarray) -> np.ndarray:
        """The prior's push on each row's log-odds, beside the trees' SHAP values."""
        return self.logit(points) - self.mean_logit

    def describe(self) -> dict[str, float | int]:
        return asdict(self)


def trees_logit(p: np.ndarray) -> np.ndarray:
    """The log-odds of the trees' probability (0.5, i.e. 0, for a model without trees)."""
    p = np.clip(np.asarray(p, dtype=np.float64), _TREES_EPS, 1 - _TREES_EPS)
    return np.log(p) - np.log1p(-p)


def row_log_loss(y: np.ndarray, logit: np.ndarray) -> np.ndarray:
    """Each row's log loss at log-odds ``logit`` (computed stably from the log-odds)."""
    return np.logaddexp(0.0, logit) - np.asarray(y) * logit


def within_se(
    losses: np.ndarray, best_losses: np.ndarray, errors: float = 1.0
) -> tuple[bool, float, float]:
    """(whether, gap, se): is the mean of ``losses`` within ``errors`` standard errors of the
    best's?

    Paired over the same rows: ``gap`` is the mean row difference and ``se`` its standard error.
    A simpler model within one standard error of the best is as good as the data can tell
    (the one-standard-error rule of Breiman et al., Classification and Regression Trees).
    """
    difference = np.asarray(losses) - np.asarray(best_losses)
    gap = float(difference.mean())
    se = float(difference.std(ddof=1) / math.sqrt(difference.size)) if difference.size > 1 else 0.0
    return gap <= errors * se, gap, se


def fewest_trees(
    y: np.ndarray,
    start: np.ndarray,
    tree_output: Callable[[int], np.ndarray],
    best_margin: np.ndarray,
    best: int,
) -> dict[str, Any]:
    """The fewest trees (0 included: the prior alone) whose log loss on these rows is within
    one standard error of the early-stopped ``best`` number's (log-odds ``best_margin``),
    paired row by row; ``start`` is the prior's log-odds and ``tree_output(k)`` tree k's
    output. A few dozen conversions let noise pick dozens of trees; the rules are the safer
    bet. Returns the trees kept and the numbers that decided."""
    best_losses = row_log_loss(y, best_margin)
    margin = np.array(start, dtype=np.float64)
    for trees in range(best + 1):
        kept, gap, se = within_se(row_log_loss(y, margin), best_losses)
        if kept or trees == best:
            return {
                "rule": "fewest trees within one standard error of the early-stopped number",
                "early_stopping": best,
                "trees": trees,
                "validation_log_loss": float(best_losses.mean()) + gap,
                "best_validation_log_loss": float(best_losses.mean()),
                "standard_error": se,
            }
        margin += tree_output(trees)
    raise AssertionError("unreachable: the early-stopped number always qualifies")


def monotone_signs(rules: HandSetRules, feature_names: Sequence[str]) -> dict[str, int]:
    """The sign each touch count feature gets from the rules: +1 where a rule gives points for
    touches of that channel, action or page type, -1 where it takes points away; a feature two
    rules pull opposite ways gets none. Numeric attribute rules with one open end give their
    attribute a sign too (``min`` only: the points' sign; ``max`` only: the opposite).

    Used as LightGBM monotone constraints on the correction trees, so they cannot turn a rule's
    direction around feature by feature.
    """
    available = set(feature_names)
    dimensions = {d.column: d for d in TOUCH_DIMENSIONS}
    votes: dict[str, set[int]] = {}
    for rule in rules.rules:
        if rule.points == 0:
            continue
        sign = 1 if rule.points > 0 else -1
        names: list[str] = []
        if isinstance(rule, TouchRule):
            for column in ("channel", "action", "page_type"):
                dimension = dimensions[column]
                for value in getattr(rule, column) or ():
                    names += [dimension.count_name.format(value=value, window=w) for w in WINDOWS]
        elif (
            isinstance(rule, AttributeRule)
            and rule.values is None
            and (rule.min is None) != (rule.max is None)
        ):
            names, sign = [rule.attribute], sign if rule.max is None else -sign
        for name in names:
            if name in available:
                votes.setdefault(name, set()).add(sign)
    return {name: signs.pop() for name, signs in votes.items() if len(signs) == 1}
