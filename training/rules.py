"""The hand-set scorer: lead history -> points per rule, total, threshold decision.

The hand-set score is the baseline every learned model is shown next to, so it is computed by
one vectorised function, ``score_leads``, for every caller: training (many decision points),
the API (one lead, one row) and the weights comparison. There is no per-lead code path.

Time: touches are seen only through ``features.window.VisibleHistory`` (strictly before
``as_of``). Look-back windows are closed at the far end, like ``window_bucket``: a touch exactly
``window_days`` old is inside.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from features.contract import TOUCH_VOCABULARIES
from features.history import LeadHistory
from features.window import (
    NS_PER_DAY,
    VisibleHistory,
    VisibleTouches,
    age_days,
    visible_history,
)
from leadscore.errors import DataContractError
from training.rules_file import (  # Condition too: models pickled before the split find it here
    AttributeRule,
    BehaviourRule,
    Condition,
    HandSetRules,
    TouchMatch,
    TouchRule,
    default_rules_path,
    dump_rules,
    load_rules,
)

__all__ = [
    "AttributeRule",
    "BehaviourRule",
    "Condition",
    "HandSetRules",
    "RuleScores",
    "TouchRule",
    "default_rules_path",
    "dump_rules",
    "load_rules",
    "score_leads",
]


@dataclass(frozen=True)
class RuleScores:
    """Hand-set points of each decision point, rows aligned to the decision points given.

    Attributes:
        points: one float column per rule (named as the rule, in file order).
        total: the sum over rules (``hand_set_points``).
        passes_threshold: total >= threshold (the lead goes to sales).
        threshold: the threshold applied.
    """

    points: pd.DataFrame
    total: pd.Series
    passes_threshold: pd.Series
    threshold: float


def score_leads(
    rules: HandSetRules, decision_points: pd.DataFrame, history: LeadHistory | VisibleHistory
) -> RuleScores:
    """Hand-set points of each (lead_id, as_of) row of ``decision_points``.

    Only touches strictly before ``as_of`` count. A touch rule gives its points per matching
    touch times 0.5 ** (age_days / half_life), then the cap; attribute and behaviour rules give
    their points once. Vectorised over all rows (one pass per rule), so one lead and a batch go
    through the same code and get the same numbers. ``history`` may be a ``VisibleHistory``
    already cut at ``decision_points``, shared with ``features.build.build_features``.
    """
    for column in ("lead_id", "as_of"):
        if column not in decision_points.columns:
            raise DataContractError("decision_points", column, "missing column")
    points, total = rule_points(rules, visible_history(decision_points, history))
    index = decision_points.index
    return RuleScores(
        points=pd.DataFrame(points, index=index, columns=[r.name for r in rules.rules]),
        total=pd.Series(total, index=index, name="hand_set_points"),
        passes_threshold=pd.Series(total >= rules.threshold, index=index, name="passes_threshold"),
        threshold=rules.threshold,
    )


def rule_points(rules: HandSetRules, visible: VisibleHistory) -> tuple[np.ndarray, np.ndarray]:
    """(points per rule, total) of a cut history: an (n, rules) array in file order and the
    sum per row. ``score_leads`` wraps it in frames; the API reads the arrays."""
    n_rows = visible.n
    points = np.empty((n_rows, len(rules.rules)))
    total = np.zeros(n_rows)
    for j, rule in enumerate(rules.rules):
        if isinstance(rule, TouchRule):
            values = _touch_points(rule, visible.touches, n_rows, rules.half_life_days)
        elif isinstance(rule, AttributeRule):
            values = _attribute_points(rule, visible.leads, n_rows)
        else:
            values = _behaviour_points(rule, visible.touches, n_rows)
        points[:, j] = values + 0.0  # -0.0 (negative points times nothing) reads as 0
        total += values  # in rule order, so a row's sum never depends on the batch around it
    return points, total


def _matching(match: TouchMatch, touches: VisibleTouches) -> np.ndarray:
    wanted = (getattr(match, field) for field in TOUCH_VOCABULARIES)  # the order kinds use
    mask = _kinds_wanted(*(None if v is None else tuple(v) for v in wanted))[touches.kind]
    if match.min_duration_s is not None:
        mask &= touches.duration_s >= match.min_duration_s
    return mask


@cache
def _kinds_wanted(*wanted: tuple[str, ...] | None) -> np.ndarray:
    """Whether a touch of each kind (``VisibleTouches.kind``) passes a filter on channel,
    action and page type (None: any value, missing included; a list never takes a missing
    value): built once per filter, so a rule reads each touch's kind once."""
    table = np.ones(1, dtype=bool)
    for field, values in zip(TOUCH_VOCABULARIES, wanted, strict=True):
        vocabulary = TOUCH_VOCABULARIES[field]
        fits = np.ones(len(vocabulary) + 1, dtype=bool)  # slot 0: missing
        if values is not None:
            fits[:] = False
            fits[[vocabulary.index(value) + 1 for value in values]] = True
        table = np.logical_and.outer(table, fits).ravel()
    table.flags.writeable = False
    return table


def _within(touches: VisibleTouches, window_days: float) -> np.ndarray:
    # closed at the far end, as features.window.window_bucket; integer ns, so exact
    return touches.age_ns <= round(window_days * NS_PER_DAY)


def _touch_points(
    rule: TouchRule, touches: VisibleTouches, n_rows: int, file_half_life: float | None
) -> np.ndarray:
    mask = _matching(rule, touches)
    if rule.window_days is not None:
        mask &= _within(touches, rule.window_days)
    half_life = rule.half_life_days if rule.half_life_days is not None else file_half_life
    weights = None
    if half_life is not None and half_life != float("inf"):
        weights = rule.points * 0.5 ** (age_days(touches.age_ns[mask]) / half_life)
    points = np.bincount(touches.row[mask], weights=weights, minlength=n_rows)
    points = points * rule.points if weights is None else points
    return np.clip(points, -rule.cap, rule.cap) if rule.cap is not None else points


def _attribute_points(rule: AttributeRule, leads: Mapping[str, Any], n_rows: int) -> np.ndarray:
    """Points once per row whose lead's attribute fits (a missing value fits only a rule that
    lists null; a missing number never fits a range)."""
    if rule.attribute not in leads:
        return np.zeros(n_rows)
    column = leads[rule.attribute]
    if rule.values is not None and isinstance(column.dtype, pd.CategoricalDtype):
        fits = _levels_fitting(column.dtype, tuple(rule.values))[column.codes]
    elif rule.values is None:  # numeric range; missing values compare False
        numbers = _numbers(column)
        low = -np.inf if rule.min is None else rule.min
        high = np.inf if rule.max is None else rule.max
        fits = (numbers >= low) & (numbers <= high)
    else:
        fits = np.asarray(pd.array(column).isin(list(rule.values)), dtype=bool)
    return fits * float(rule.points)


def _numbers(column: Any) -> np.ndarray:
    """An attribute as floats (missing -> NaN); text that does not parse is missing."""
    if isinstance(column, np.ndarray) and column.dtype.kind in "biuf":
        return column.astype(np.float64)
    if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(pd.Series(column), errors="coerce").to_numpy(float, na_value=np.nan)


@cache
def _levels_fitting(dtype: pd.CategoricalDtype, values: tuple[Any, ...]) -> np.ndarray:
    """Whether each level of ``dtype`` is one of ``values``, then whether a missing value is
    (the last slot, which code -1 picks): as ``Categorical.isin``, but computed once per column
    type and rule, so a lead's fit is one lookup of its code."""
    fits = [level in values for level in dtype.categories]
    fits.append(any(pd.isna(v) for v in values))
    out = np.array(fits, dtype=bool)
    out.flags.writeable = False
    return out


def _behaviour_points(rule: BehaviourRule, touches: VisibleTouches, n_rows: int) -> np.ndarray:
    holds = np.ones(n_rows, dtype=bool)
    for condition in rule.when_all:
        window = condition.window_days if condition.window_days is not None else rule.window_days
        mask = _matching(condition, touches) & _within(touches, window)
        weights = None
        if condition.measure == "total_duration_s":
            weights = np.nan_to_num(touches.duration_s[mask], nan=0.0)
        measure = np.bincount(touches.row[mask], weights=weights, minlength=n_rows)
        if condition.more_than is not None:
            holds &= measure > condition.more_than
        else:
            holds &= measure <= condition.at_most
    return holds * float(rule.points)
