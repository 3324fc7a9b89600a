"""The one point-in-time cut: an event is visible at ``as_of`` only if it happened strictly before.

Every feature, the hand-set scorer and the API see lead history through ``VisibleHistory``:
the events of each decision point's lead that ``strictly_before`` its ``as_of`` keeps, as plain
arrays (decision point ``row``, ``age_ns``, category codes). Nothing else compares event times
with ``as_of``. Batch training cuts loaded tables (``visible_history``); the API cuts the
records of a request (``features.online.visible_of``); both end in the same arrays, so the
feature and rule code after the cut is one code path with no pandas fixed cost per call.

The boundary is strict (``occurred_at < as_of``): an event stamped exactly at the decision time
is the decision itself or happened with it, and counting it would leak the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from core.contract import STAGES, TOUCH_VOCABULARIES, as_ns
from core.errors import DataContractError
from features.history import LeadHistory

NS_PER_DAY = 86_400 * 10**9

# Look-back windows, in days, nested; "all" is everything before as_of.
WINDOWS: dict[str, int | None] = {"3d": 3, "7d": 7, "30d": 30, "90d": 90, "all": None}
_BOUNDED_DAYS = np.array([d for d in WINDOWS.values() if d is not None], dtype=np.int64)


def strictly_before(
    row: np.ndarray, event_ns: np.ndarray, as_of_ns: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, age_ns): which events of decision point ``row`` happened before its ``as_of``,
    and how long before (> 0). The one comparison of event times with decision times."""
    age_ns = as_of_ns[row] - event_ns
    kept = age_ns > 0
    return kept, age_ns[kept]


@dataclass(frozen=True)
class VisibleTouches:
    """Touches visible at the decision points; ``row`` indexes the decision points.

    ``channel``, ``action``, ``page_type`` are int8 codes into ``TOUCH_VOCABULARIES`` (-1:
    missing or unknown); ``duration_s`` is float seconds (NaN: unknown).
    """

    row: np.ndarray
    age_ns: np.ndarray
    channel: np.ndarray
    action: np.ndarray
    page_type: np.ndarray
    duration_s: np.ndarray

    def codes(self, field: str) -> np.ndarray:
        return getattr(self, field)

    @cached_property
    def kind(self) -> np.ndarray:
        """One code per touch for its (channel, action, page type), each shifted by one so
        that 0 is missing: a rule's touch filter is then one look-up of a table by kind."""
        kind = np.zeros(len(self.row), dtype=np.int32)
        for field in TOUCH_VOCABULARIES:
            kind = kind * (len(TOUCH_VOCABULARIES[field]) + 1) + self.codes(field) + 1
        return kind


@dataclass(frozen=True)
class VisibleStages:
    """Stage entries visible at the decision points; ``stage`` is an int8 code into STAGES."""

    row: np.ndarray
    age_ns: np.ndarray
    stage: np.ndarray


@dataclass(frozen=True)
class VisibleHistory:
    """The history of each decision point's lead as it looked just before its ``as_of``.

    ``features.build.build_features`` and ``training.rules.score_leads`` accept it in place of
    the ``LeadHistory`` (with the same ``points``), so one scoring pass cuts once.

    Attributes:
        points: the decision points the cut was made at (None when cut from request records).
        as_of_ns: each decision point's time (int64 ns, naive UTC).
        leads: each leads column (but lead_id) aligned to the decision points, in the
            contract's dtypes; a lead missing from the leads table has missing attributes.
        touches, stages: the visible events.
    """

    points: pd.DataFrame | None
    as_of_ns: np.ndarray
    leads: Mapping[str, object]
    touches: VisibleTouches
    stages: VisibleStages

    @property
    def n(self) -> int:
        return len(self.as_of_ns)

    def at(self, points: pd.DataFrame) -> VisibleHistory:
        """Itself, checked to have been cut at ``points`` (the same frame object)."""
        if points is not self.points:
            raise ValueError("this VisibleHistory was cut at other decision points")
        return self


def _codes_in(values: pd.api.extensions.ExtensionArray, vocabulary: tuple) -> np.ndarray:
    """Positions of the values in ``vocabulary`` (-1: missing or unknown); a contract-typed
    column already holds them as its categorical codes."""
    if isinstance(values, pd.Categorical) and tuple(values.categories) == vocabulary:
        return np.asarray(values.codes)
    return pd.Categorical(values, categories=vocabulary).codes


def visible_history(points: pd.DataFrame, history: LeadHistory | VisibleHistory) -> VisibleHistory:
    """The loaded ``history`` as each decision point (``lead_id``, ``as_of``) of ``points`` saw
    it. Works on any subset of whole leads, so it maps over Dask partitions by lead_id."""
    if isinstance(history, VisibleHistory):
        return history.at(points)
    as_of_ns = as_ns(points["as_of"])
    lead_ids = points["lead_id"].to_numpy()
    touches = history.touches
    row, taken, age_ns = _visible_positions(lead_ids, as_of_ns, touches, "occurred_at")
    n_touches = len(taken)
    codes = {
        field: _codes_in(touches[field].array.take(taken), vocabulary)
        if field in touches.columns
        else np.full(n_touches, -1, dtype=np.int8)
        for field, vocabulary in TOUCH_VOCABULARIES.items()
    }
    duration = (
        _seconds(touches["duration_s"])[taken]
        if "duration_s" in touches.columns
        else np.full(n_touches, np.nan)
    )
    stage_changes = history.stage_changes
    stage_row, stage_taken, stage_age = _visible_positions(
        lead_ids, as_of_ns, stage_changes, "changed_at"
    )
    return VisibleHistory(
        points=points,
        as_of_ns=as_of_ns,
        leads=_leads_aligned(lead_ids, history.leads),
        touches=VisibleTouches(
            row=row,
            age_ns=age_ns,
            **codes,
            duration_s=duration,
        ),
        stages=VisibleStages(
            row=stage_row,
            age_ns=stage_age,
            stage=_codes_in(stage_changes["stage"].array.take(stage_taken), STAGES),
        ),
    )


def _seconds(column: pd.Series) -> np.ndarray:
    """A duration column as float seconds; text that does not parse is unknown (NaN)."""
    if not pd.api.types.is_numeric_dtype(column.dtype):
        column = pd.to_numeric(column, errors="coerce")
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def _visible_positions(
    lead_ids: np.ndarray, as_of_ns: np.ndarray, events: pd.DataFrame, time_column: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(decision point row, event position, age) of every event visible at its row's as_of;
    a lead with several decision points sees its events once per row."""
    index = pd.Index(lead_ids)
    if index.is_unique:
        row = index.get_indexer(events["lead_id"].to_numpy())
        taken = np.flatnonzero(row >= 0)
        row = row[taken]
    else:
        left = pd.DataFrame({"lead_id": lead_ids, "row": np.arange(len(lead_ids))})
        right = pd.DataFrame(
            {"lead_id": events["lead_id"].to_numpy(), "taken": np.arange(len(events))}
        )
        pairs = right.merge(left, on="lead_id", how="inner")
        row, taken = pairs["row"].to_numpy(), pairs["taken"].to_numpy()
    kept, age_ns = strictly_before(row, as_ns(events[time_column])[taken], as_of_ns)
    return row[kept].astype(np.int64), taken[kept], age_ns


def _leads_aligned(lead_ids: np.ndarray, leads: pd.DataFrame) -> dict[str, object]:
    """Each leads column's values at the decision points' leads (missing for an unknown lead):
    one ``get_indexer`` and a ``take`` per column, no intermediate frames."""
    index = pd.Index(leads["lead_id"])
    if not index.is_unique:
        duplicated = index[index.duplicated()].unique()[:5]
        raise DataContractError("leads", "lead_id", "lead ids must be unique", list(duplicated))
    positions = index.get_indexer(lead_ids)
    return {
        name: leads[name].array.take(positions, allow_fill=True)
        for name in leads.columns
        if name != "lead_id"
    }


def window_bucket(age_ns: np.ndarray) -> np.ndarray:
    """Index of the smallest window holding each event: 0 for 3d, ... 3 for 90d, 4 beyond.

    An event exactly 3 days before as_of is inside the 3-day window (windows are closed at the
    far end, open at as_of). Counting per bucket and taking a cumulative sum gives every
    window's count in one pass.
    """
    return np.searchsorted(_BOUNDED_DAYS * NS_PER_DAY, age_ns, side="left")


def age_days(age_ns: np.ndarray) -> np.ndarray:
    """Event age in fractional days."""
    return age_ns / NS_PER_DAY
