"""The hand-set scorer: lead history -> points per rule, total, threshold decision.

The hand-set score is the baseline every learned model is shown next to, so it is computed by
one vectorised function, ``score_leads``, for every caller: training (many decision points),
the API (one lead, one row) and the weights comparison. There is no per-lead code path.

Time: touches are seen only through ``features.window.VisibleHistory`` (strictly before
``as_of``). Look-back windows are closed at the far end, like ``window_bucket``: a touch exactly
``window_days`` old is inside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from core.contract import TOUCH_VOCABULARIES
from core.errors import DataContractError
from core.rules_file import (  # Condition too: models pickled before the split find it here
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
from features.history import LeadHistory
from features.window import (
    NS_PER_DAY,
    VisibleHistory,
    VisibleTouches,
    age_days,
    visible_history,
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
    their points once. Vectorised over all rows (and the rules of a kind), so one lead and a
    batch go through the same code and get the same numbers. ``history`` may be a ``VisibleHistory``
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
    sum per row. ``score_leads`` wraps it in frames; the API reads the arrays.

    All touch rules are scored at once, and all behaviour rules: scoring one lead, the cost
    was some twenty small numpy calls per rule, 0.6 ms a lead for the 27 default rules.
    """
    n_rows = visible.n
    points = np.empty((n_rows, len(rules.rules)))
    by_kind: dict[type, list[int]] = {TouchRule: [], AttributeRule: [], BehaviourRule: []}
    for j, rule in enumerate(rules.rules):
        by_kind[type(rule)].append(j)
    if columns := by_kind[TouchRule]:
        touch_rules = [rules.rules[j] for j in columns]
        points[:, columns] = _touch_points(
            touch_rules, visible.touches, n_rows, rules.half_life_days
        )
    if columns := by_kind[BehaviourRule]:
        behaviour_rules = [rules.rules[j] for j in columns]
        points[:, columns] = _behaviour_points(behaviour_rules, visible.touches, n_rows)
    for j in by_kind[AttributeRule]:
        points[:, j] = _attribute_points(rules.rules[j], visible.leads, n_rows)
    points += 0.0  # -0.0 (negative points times nothing) reads as 0
    total = np.zeros(n_rows)
    for j in range(points.shape[1]):
        total += points[:, j]  # in rule order, so a row's sum never depends on the batch around it
    return points, total


@dataclass(frozen=True)
class _Matches:
    """Which touches each of several filters takes, as (filter, touch) pairs.

    ``cells`` numbers each pair's (row, filter) cell of an (n_rows, filters) array, so one
    ``np.bincount`` sums every filter's touches per row. The pairs of a cell come in touch
    order, so each sum is added up in the order a ``bincount`` per filter would use.
    """

    match: np.ndarray
    touch: np.ndarray
    cells: np.ndarray
    shape: tuple[int, int]

    def sum(self, weights: np.ndarray | None = None, pairs: np.ndarray | None = None) -> np.ndarray:
        """Per cell, the number of pairs (or the sum of their ``weights``), over the ``pairs``
        selected (a mask; default all)."""
        cells = self.cells if pairs is None else self.cells[pairs]
        size = self.shape[0] * self.shape[1]
        return np.bincount(cells, weights, minlength=size).reshape(self.shape)


def _matches(
    filters: Sequence[TouchMatch],
    windows_days: Sequence[float | None],
    touches: VisibleTouches,
    n_rows: int,
) -> _Matches:
    """The touches each filter takes within its window (None: all history)."""
    wanted = tuple(
        tuple(
            None if (v := getattr(f, field)) is None else tuple(v) for field in TOUCH_VOCABULARIES
        )
        for f in filters
    )
    taken = _kinds_table(wanted)[:, touches.kind]  # (filters, touches): a row per filter
    for k, (f, days) in enumerate(zip(filters, windows_days, strict=True)):
        if f.min_duration_s is not None:  # unknown durations never pass a minimum
            taken[k] &= touches.duration_s >= f.min_duration_s
        if days is not None:  # closed at the far end, as features.window.window_bucket
            taken[k] &= touches.age_ns <= round(days * NS_PER_DAY)  # integer ns, so exact
    match, touch = np.divmod(np.flatnonzero(taken), taken.shape[1])  # as np.nonzero, faster
    cells = touches.row[touch] * len(filters) + match
    return _Matches(match, touch, cells, (n_rows, len(filters)))


@cache
def _kinds_table(wanted: tuple[tuple[tuple[str, ...] | None, ...], ...]) -> np.ndarray:
    """(filters, kinds): ``_kinds_wanted`` of each filter, one row each."""
    table = np.vstack([_kinds_wanted(*filter_wanted) for filter_wanted in wanted])
    table.flags.writeable = False
    return table


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


def _touch_points(
    rules: Sequence[TouchRule], touches: VisibleTouches, n_rows: int, file_half_life: float | None
) -> np.ndarray:
    """(n_rows, rules): each rule's points for every matching touch, decayed, then capped."""
    matches = _matches(rules, [rule.window_days for rule in rules], touches, n_rows)
    points = np.array([rule.points for rule in rules], dtype=np.float64)
    half_lives = np.array(
        [np.inf if (h := _half_life(rule, file_half_life)) is None else h for rule in rules]
    )
    decays = np.isfinite(half_lives)
    decayed = decays[matches.match]
    values = matches.sum(pairs=~decayed) * points
    if decayed.any():
        # each touch's points * 0.5 ** (age_days / half_life), summed per row in touch order
        rule_at = matches.match[decayed]
        ages = age_days(touches.age_ns[matches.touch[decayed]])
        weights = points[rule_at] * 0.5 ** (ages / half_lives[rule_at])
        values[:, decays] = matches.sum(weights, pairs=decayed)[:, decays]
    caps = np.array([np.inf if rule.cap is None else rule.cap for rule in rules])
    return np.minimum(np.maximum(values, -caps), caps)


def _half_life(rule: TouchRule, file_half_life: float | None) -> float | None:
    return rule.half_life_days if rule.half_life_days is not None else file_half_life


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


def _behaviour_points(
    rules: Sequence[BehaviourRule], touches: VisibleTouches, n_rows: int
) -> np.ndarray:
    """(n_rows, rules): a rule's points where all its conditions hold, else 0."""
    conditions = [condition for rule in rules for condition in rule.when_all]
    windows = [
        condition.window_days if condition.window_days is not None else rule.window_days
        for rule in rules
        for condition in rule.when_all
    ]
    matches = _matches(conditions, windows, touches, n_rows)
    measures = matches.sum()
    by_duration = np.array([condition.measure == "total_duration_s" for condition in conditions])
    if by_duration.any():  # unknown durations add 0
        durations = matches.sum(np.nan_to_num(touches.duration_s[matches.touch], nan=0.0))
        measures = np.where(by_duration, durations, measures)
    more_than = np.array([c.more_than is not None for c in conditions])
    limits = np.array([c.more_than if c.more_than is not None else c.at_most for c in conditions])
    holds = np.where(more_than, measures > limits, measures <= limits)
    starts = np.cumsum([0] + [len(rule.when_all) for rule in rules[:-1]])
    all_hold = np.logical_and.reduceat(holds, starts, axis=1)  # every rule has a condition
    return all_hold * np.array([float(rule.points) for rule in rules])
