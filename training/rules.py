"""The hand-set scorer: lead history -> points per rule, total, threshold decision.

The hand-set score is the baseline every learned model is shown next to, so it is computed by
one vectorised function, ``score_leads``, for every caller: training (many decision points),
the API (one lead, one row) and the weights comparison. There is no per-lead code path.

Time: touches are seen only through ``features.window.events_before`` (strictly before
``as_of``). Look-back windows are closed at the far end, like ``window_bucket``: a touch exactly
``window_days`` old is inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from features.history import LeadHistory
from features.window import NS_PER_DAY, VisibleHistory, age_days, visible_history
from leadscore.errors import DataContractError
from training.rules_file import (  # Condition too: models pickled before the split find it here
    TOUCH_VOCABULARIES,
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


@dataclass(frozen=True)
class _Touches:
    """Touches visible at each decision point: ``row`` indexes the decision points."""

    row: np.ndarray
    age_ns: np.ndarray
    codes: dict[str, np.ndarray]  # category codes per touch field; -1 = missing or unknown
    duration_s: np.ndarray  # float seconds, nan = unknown
    n_rows: int


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
    n_rows = len(decision_points)
    visible = visible_history(decision_points, history)
    touches = _visible_touches(visible.touches, n_rows)
    leads = visible.history.leads
    positions = _lead_positions(decision_points, leads)
    columns: dict[str, np.ndarray] = {}
    total = np.zeros(n_rows)
    for rule in rules.rules:
        if isinstance(rule, TouchRule):
            values = _touch_points(rule, touches, rules.half_life_days)
        elif isinstance(rule, AttributeRule):
            values = _attribute_points(rule, positions, leads)
        else:
            values = _behaviour_points(rule, touches)
        columns[rule.name] = values + 0.0  # -0.0 (negative points times nothing) reads as 0
        total += values  # in rule order, so a row's sum never depends on the batch around it
    index = decision_points.index
    return RuleScores(
        points=pd.DataFrame(columns, index=index, columns=[r.name for r in rules.rules]),
        total=pd.Series(total, index=index, name="hand_set_points"),
        passes_threshold=pd.Series(total >= rules.threshold, index=index, name="passes_threshold"),
        threshold=rules.threshold,
    )


def _visible_touches(visible: pd.DataFrame, n_rows: int) -> _Touches:
    n_touches = len(visible)
    codes = {
        field: _codes(visible[field], vocabulary)
        if field in visible.columns
        else np.full(n_touches, -1, dtype=np.int8)
        for field, vocabulary in TOUCH_VOCABULARIES.items()
    }
    duration = (
        pd.to_numeric(visible["duration_s"], errors="coerce").to_numpy(float, na_value=np.nan)
        if "duration_s" in visible.columns
        else np.full(n_touches, np.nan)
    )
    return _Touches(
        row=visible["row"].to_numpy(np.int64),
        age_ns=visible["age_ns"].to_numpy(np.int64),
        codes=codes,
        duration_s=duration,
        n_rows=n_rows,
    )


def _codes(values: pd.Series, vocabulary: tuple[str, ...]) -> np.ndarray:
    """Positions of the values in ``vocabulary`` (-1: missing or unknown); a contract-typed
    column already holds them as its categorical codes."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype) and tuple(dtype.categories) == vocabulary:
        return values.cat.codes.to_numpy()
    return pd.Categorical(values, categories=vocabulary).codes


def _matching(match: TouchMatch, touches: _Touches) -> np.ndarray:
    mask = None  # a TouchMatch always names at least one field
    for field, vocabulary in TOUCH_VOCABULARIES.items():
        wanted = getattr(match, field)
        if wanted is not None:
            lookup = np.zeros(len(vocabulary) + 1, dtype=bool)  # last slot: code -1
            lookup[[vocabulary.index(value) for value in wanted]] = True
            hit = lookup[touches.codes[field]]
            mask = hit if mask is None else np.logical_and(mask, hit, out=mask)
    if match.min_duration_s is not None:
        mask &= touches.duration_s >= match.min_duration_s
    return mask


def _within(touches: _Touches, window_days: float) -> np.ndarray:
    # closed at the far end, as features.window.window_bucket; integer ns, so exact
    return touches.age_ns <= round(window_days * NS_PER_DAY)


def _touch_points(rule: TouchRule, touches: _Touches, file_half_life: float | None) -> np.ndarray:
    mask = _matching(rule, touches)
    if rule.window_days is not None:
        mask &= _within(touches, rule.window_days)
    half_life = rule.half_life_days if rule.half_life_days is not None else file_half_life
    weights = None
    if half_life is not None and half_life != float("inf"):
        weights = rule.points * 0.5 ** (age_days(touches.age_ns[mask]) / half_life)
    points = np.bincount(touches.row[mask], weights=weights, minlength=touches.n_rows)
    points = points * rule.points if weights is None else points
    return np.clip(points, -rule.cap, rule.cap) if rule.cap is not None else points


def _lead_positions(decision_points: pd.DataFrame, leads: pd.DataFrame) -> np.ndarray:
    """Position of each decision point's lead in ``leads``; -1 when the lead is unknown."""
    lead_ids = pd.Index(leads["lead_id"])
    if not lead_ids.is_unique:
        duplicated = lead_ids[lead_ids.duplicated()].unique()[:5]
        raise DataContractError("leads", "lead_id", "lead ids must be unique", list(duplicated))
    return lead_ids.get_indexer(decision_points["lead_id"])


def _attribute_points(
    rule: AttributeRule, positions: np.ndarray, leads: pd.DataFrame
) -> np.ndarray:
    if rule.attribute not in leads.columns:
        return np.zeros(len(positions))
    column = leads[rule.attribute]
    if rule.values is not None and isinstance(column.dtype, pd.CategoricalDtype):
        categorical = column.array
        fits = _levels_fitting(categorical.dtype, tuple(rule.values))[categorical.codes]
    elif rule.values is None:  # numeric range; missing values compare False
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(float, na_value=np.nan)
        low = -np.inf if rule.min is None else rule.min
        high = np.inf if rule.max is None else rule.max
        fits = (numbers >= low) & (numbers <= high)
    else:
        fits = column.isin(rule.values).to_numpy(dtype=bool)
    fits = np.append(fits, False)  # position -1 (unknown lead) picks this slot
    return fits[positions] * float(rule.points)


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


def _behaviour_points(rule: BehaviourRule, touches: _Touches) -> np.ndarray:
    holds = np.ones(touches.n_rows, dtype=bool)
    for condition in rule.when_all:
        window = condition.window_days if condition.window_days is not None else rule.window_days
        mask = _matching(condition, touches) & _within(touches, window)
        weights = None
        if condition.measure == "total_duration_s":
            weights = np.nan_to_num(touches.duration_s[mask], nan=0.0)
        measure = np.bincount(touches.row[mask], weights=weights, minlength=touches.n_rows)
        if condition.more_than is not None:
            holds &= measure > condition.more_than
        else:
            holds &= measure <= condition.at_most
    return holds * float(rule.points)
