"""The one point-in-time cut: an event is visible at ``as_of`` only if it happened strictly before.

Every feature, the hand-set scorer and the online path see lead history through
``events_before`` and ``window_bucket``; nothing else compares event times with ``as_of``.
The boundary is strict (``occurred_at < as_of``): an event stamped exactly at the decision time
is the decision itself or happened with it, and counting it would leak the outcome.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NS_PER_DAY = 86_400 * 10**9

# Look-back windows, in days, nested; "all" is everything before as_of.
WINDOWS: dict[str, int | None] = {"3d": 3, "7d": 7, "30d": 30, "90d": 90, "all": None}
_BOUNDED_DAYS = np.array([d for d in WINDOWS.values() if d is not None], dtype=np.int64)


def _as_ns(values: pd.Series | pd.Index) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[ns]").view(np.int64)


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
    """
    columns = list(columns or [])
    keep_cols = [time_column, *columns]
    lead_ids = decision_points["lead_id"].to_numpy()
    as_of_ns = _as_ns(decision_points["as_of"])
    if pd.Index(lead_ids).is_unique:
        row = pd.Index(lead_ids).get_indexer(events["lead_id"])
        hit = row >= 0
        picked = events.loc[hit, keep_cols] if not hit.all() else events[keep_cols]
        row = row[hit]
    else:
        left = pd.DataFrame({"lead_id": lead_ids, "row": np.arange(len(lead_ids))})
        picked = events[["lead_id", *keep_cols]].merge(left, on="lead_id", how="inner")
        row = picked.pop("row").to_numpy()
        picked = picked[keep_cols]
    age_ns = as_of_ns[row] - _as_ns(picked[time_column])
    visible = age_ns > 0
    out = picked.loc[visible, columns].reset_index(drop=True) if columns else pd.DataFrame()
    out["row"] = row[visible]
    out["age_ns"] = age_ns[visible]
    return out


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
