"""The one point-in-time cut: an event is visible at ``as_of`` only if it happened strictly before.

Every feature, the hand-set scorer and the online path see lead history through
``events_before`` and ``window_bucket``; nothing else compares event times with ``as_of``.
``visible_history`` makes the cut once for a set of decision points so that the features and
the hand-set scorer of one pass share it instead of each cutting the same tables again.
The boundary is strict (``occurred_at < as_of``): an event stamped exactly at the decision time
is the decision itself or happened with it, and counting it would leak the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import as_ns
from features.history import LeadHistory

NS_PER_DAY = 86_400 * 10**9

# Look-back windows, in days, nested; "all" is everything before as_of.
WINDOWS: dict[str, int | None] = {"3d": 3, "7d": 7, "30d": 30, "90d": 90, "all": None}
_BOUNDED_DAYS = np.array([d for d in WINDOWS.values() if d is not None], dtype=np.int64)


def events_before(
    decision_points: pd.DataFrame,
    events: pd.DataFrame,
    time_column: str,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Events of each decision point's lead that happened strictly before its ``as_of``.

    ``decision_points`` needs ``lead_id`` and ``as_of``; a lead may appear in several rows
    (several as_of times), each sees its own cut. Returns the kept events' ``columns`` plus
    ``row`` (position of the decision point, 0..n-1) and ``age_ns`` (as_of - event time, > 0).
    Works on any subset of whole leads, so it maps over Dask partitions by lead_id unchanged.

    The cut is computed on positions with numpy and each kept column is taken once, straight
    into the result: for one lead scored online the fixed cost of pandas selections
    (``loc``, ``reset_index``, column by column assignment) was most of the time.
    """
    row, taken, age_ns = _visible_positions(decision_points, events, time_column)
    out = {c: _take(events[c], taken) for c in columns or ()}
    return pd.DataFrame({**out, "row": row, "age_ns": age_ns})


def _visible_positions(
    decision_points: pd.DataFrame, events: pd.DataFrame, time_column: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(decision point row, event position, age) of every event visible at its row's as_of,
    in the order of ``events`` (of the merge, when a lead has several rows)."""
    lead_ids = decision_points["lead_id"].to_numpy()
    as_of_ns = as_ns(decision_points["as_of"])
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
    age_ns = as_of_ns[row] - as_ns(events[time_column])[taken]
    visible = age_ns > 0
    return row[visible], taken[visible], age_ns[visible]


def _take(column: pd.Series, positions: np.ndarray) -> object:
    """A column's values at ``positions``, keeping its dtype (categories, nullable, text)."""
    return column.array.take(positions)


@dataclass(frozen=True)
class VisibleHistory:
    """A lead history cut once at a set of decision points.

    ``features.build.build_features`` and ``training.rules.score_leads`` accept it in place of
    the ``LeadHistory`` (with the same ``points``): a scoring pass then cuts each table once
    instead of once per consumer, which for one lead is most of the cost of the cut.

    Attributes:
        points: the decision points the cut was made at (``lead_id``, ``as_of``).
        history: the uncut history (leads are read from it).
        touches: ``events_before`` of the touches, with every touch field present.
        stage_changes: ``events_before`` of the stage changes, with ``stage``.
    """

    points: pd.DataFrame
    history: LeadHistory
    touches: pd.DataFrame
    stage_changes: pd.DataFrame

    def at(self, points: pd.DataFrame) -> VisibleHistory:
        """Itself, checked to have been cut at ``points`` (the same frame object)."""
        if points is not self.points:
            raise ValueError("this VisibleHistory was cut at other decision points")
        return self


_TOUCH_FIELDS = ("channel", "action", "page_type", "duration_s")


def visible_history(points: pd.DataFrame, history: LeadHistory | VisibleHistory) -> VisibleHistory:
    """The history as each decision point of ``points`` sees it (see ``VisibleHistory``)."""
    if isinstance(history, VisibleHistory):
        return history.at(points)
    touches = history.touches
    fields = [f for f in _TOUCH_FIELDS if f in touches.columns]
    return VisibleHistory(
        points=points,
        history=history,
        touches=events_before(points, touches, "occurred_at", fields),
        stage_changes=events_before(points, history.stage_changes, "changed_at", ["stage"]),
    )


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
