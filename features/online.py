"""One lead scored online: its payload becomes the same three tables and goes through the same
``features.build.build_features`` as batch training, so there is no training/serving skew.

Only the loading differs from batch: records instead of files. The API answers one lead in a
millisecond or two, so the records are typed column by column in one step (category codes from
the contract's vocabulary, timestamps converted in Python) rather than through a generic
records frame and an ``astype`` per column; the tables and dtypes are the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from features.build import build_features
from features.contract import TABLES, Column, dtype_of, naive_utc
from features.history import LeadHistory

_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


@cache
def _codes_of(column: Column) -> dict[Any, int]:
    """Category code of each allowed value (the contract's order, as ``dtype_of`` gives it)."""
    return {value: code for code, value in enumerate(column.allowed or ())}


def _timestamps(values: list[Any]) -> np.ndarray:
    """UTC instants -> naive ``datetime64[ns]``. Plain ``datetime`` objects (what the API's
    schema produces) are converted in Python, which for a few dozen values is far cheaper than
    ``pd.to_datetime``; anything else (text, ``pd.Timestamp`` with nanoseconds) goes through it."""
    if all(type(v) is datetime for v in values):
        micros = [
            (v - (_EPOCH_UTC if v.tzinfo is not None else _EPOCH_NAIVE)) // _MICROSECOND
            for v in values
        ]
        return (np.array(micros, dtype=np.int64) * 1000).view("datetime64[ns]")
    stamps = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
    return stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")


def _array(column: Column, values: list[Any]) -> Any:
    """One column's values -> an array with the contract's in-memory dtype, typed in one step
    (no intermediate object frame and ``astype`` per column)."""
    dtype = dtype_of(column)
    if column.kind == "timestamp":
        return _timestamps(values)
    if isinstance(dtype, pd.CategoricalDtype):
        codes = _codes_of(column)
        return pd.Categorical.from_codes(
            np.array([codes.get(v, -1) for v in values], dtype=np.int8), dtype=dtype
        )
    if dtype is None:  # ids keep the type they came with
        return pd.Series(values, dtype=None if values else object).array
    if dtype == "float64":
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if dtype == "str":
        return pd.Series(values, dtype=object).astype(dtype).array
    return pd.array(values, dtype=dtype)


class _Columns:
    """A table being collected from records: one value list per contract column, ``None`` where
    a record lacks the key (as a records frame would have it)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.lists: dict[str, list[Any]] = {c.name: [] for c in TABLES[table]}

    def add(self, records: Iterable[Mapping[str, Any]], **fixed: Any) -> None:
        """Append records; ``fixed`` overrides a column for all of them (the lead id)."""
        for record in records:
            for name, values in self.lists.items():
                values.append(fixed[name] if name in fixed else record.get(name))

    def frame(self) -> pd.DataFrame:
        """The table with the contract's columns and in-memory dtypes."""
        return pd.DataFrame({c.name: _array(c, self.lists[c.name]) for c in TABLES[self.table]})


def lead_history_of(
    lead: Mapping[str, Any],
    touches: Sequence[Mapping[str, Any]] = (),
    stage_changes: Sequence[Mapping[str, Any]] = (),
) -> LeadHistory:
    """The history of a single lead from plain records (touches and stages need no lead_id)."""
    return lead_histories_of(
        [{"lead": lead, "touches": touches, "stage_changes": stage_changes, "as_of": None}]
    )[0]


def features_at(history: LeadHistory, lead_id: Any, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row of features for ``lead_id`` as it looked just before ``as_of``."""
    as_of = naive_utc(pd.Timestamp(as_of))
    points = pd.DataFrame(
        {"lead_id": [lead_id], "as_of": pd.Series([as_of], dtype="datetime64[ns]")}
    )
    return build_features(points, history)


def lead_histories_of(
    payloads: Sequence[Mapping[str, Any]],
) -> tuple[LeadHistory, pd.DataFrame]:
    """Many leads' payloads (``lead``, ``touches``, ``stage_changes``, ``as_of``) -> one history
    and their decision points, so a batch is built in one vectorised pass."""
    leads, touches, stages = _Columns("leads"), _Columns("touches"), _Columns("stage_changes")
    as_of = []
    for payload in payloads:
        lead_id = payload["lead"]["lead_id"]
        leads.add([payload["lead"]])
        touches.add(payload.get("touches") or (), lead_id=lead_id)
        stages.add(payload.get("stage_changes") or (), lead_id=lead_id)
        as_of.append(payload["as_of"])
    history = LeadHistory(
        leads=leads.frame(), touches=touches.frame(), stage_changes=stages.frame()
    )
    points = pd.DataFrame(
        {"lead_id": history.leads["lead_id"].to_numpy(), "as_of": _as_of_column(as_of)}
    )
    return history, points


def _as_of_column(values: list[Any]) -> pd.Series:
    """Decision times -> naive UTC ``datetime64[ns]`` (a missing one stays NaT)."""
    if all(type(v) is datetime for v in values):
        return pd.Series(_timestamps(values), dtype="datetime64[ns]")
    return pd.Series(
        [None if v is None else naive_utc(pd.Timestamp(v)) for v in values],
        dtype="datetime64[ns]",
    )
