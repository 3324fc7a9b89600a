"""Leads scored online: request records become the same typed columns as loaded history, and go
through the same cut (``features.window``) and the same feature code as batch training, so
there is no training/serving skew.

Only the loading differs from batch: records instead of files. Records are typed column by
column in one step (category codes from the contract's vocabulary, timestamps converted in
Python) rather than through a generic records frame and an ``astype`` per column.
``lead_histories_of`` wraps those columns in the three tables (the MLflow model and tests use
it); ``visible_of`` cuts them straight into the arrays the feature and rule code reads, which
is what the API scores from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from core.contract import TABLES, TOUCH_VOCABULARIES, Column, as_ns, dtype_of, naive_utc
from features.build import build_features
from features.history import LeadHistory
from features.window import VisibleHistory, VisibleStages, VisibleTouches, strictly_before

_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_PYTHON = {"Int64": int, "boolean": bool}
_NUMPY = {"Int64": np.int64, "boolean": np.bool_}


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


def _codes(column: Column, values: list[Any]) -> np.ndarray:
    """Category codes in the contract's vocabulary order (-1: missing or not in it)."""
    codes = _codes_of(column)
    return np.array([codes.get(v, -1) for v in values], dtype=np.int8)


def category_array(column: Column, codes: np.ndarray) -> pd.Categorical:
    """A closed-vocabulary column from its codes in the contract's order (-1: missing)."""
    return pd.Categorical.from_codes(codes, dtype=dtype_of(column), validate=False)


def typed_array(column: Column, values: list[Any]) -> Any:
    """One column's values -> an array with the contract's in-memory dtype, typed in one step
    (no intermediate object frame and ``astype`` per column)."""
    dtype = dtype_of(column)
    if column.kind == "timestamp":
        return _timestamps(values)
    if isinstance(dtype, pd.CategoricalDtype):
        return category_array(column, _codes(column, values))
    if dtype is None:  # ids keep the type they came with
        return pd.Series(values, dtype=None if values else object).array
    if dtype == "float64":
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    # what the API's schema lets through (text, int, bool or None) is built directly: pandas'
    # generic conversions cost a one-lead pass more than its features
    if dtype == "str":  # open text: whatever came, as text
        if all(v is None or type(v) is str for v in values):
            return pd.array(values, dtype=dtype)
        return pd.Series(values, dtype=object).astype(dtype).array
    if dtype in ("Int64", "boolean") and all(
        v is None or type(v) is _PYTHON[dtype] for v in values
    ):
        mask = np.array([v is None for v in values], dtype=bool)
        data = np.array([0 if v is None else v for v in values], dtype=_NUMPY[dtype])
        return (
            pd.arrays.IntegerArray(data, mask)
            if dtype == "Int64"
            else pd.arrays.BooleanArray(data, mask)
        )
    return pd.array(values, dtype=dtype)


def _typed(table: str, records: Sequence[Mapping[str, Any]], skip: str = "") -> dict[str, Any]:
    """The contract columns of ``table`` (but ``skip``) from records, column by column, in
    the contract's dtypes; a key a record lacks is missing, as in a records frame."""
    return {
        c.name: typed_array(c, [r.get(c.name) for r in records])
        for c in TABLES[table]
        if c.name != skip
    }


def _events(
    payloads: Sequence[Mapping[str, Any]], key: str
) -> tuple[list[Mapping[str, Any]], np.ndarray]:
    """All payloads' events under ``key`` in one list, and the payload each belongs to."""
    groups = [payload.get(key) or () for payload in payloads]
    rows = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    return [event for group in groups for event in group], rows


def visible_of(payloads: Sequence[Mapping[str, Any]]) -> VisibleHistory:
    """Requests' records (``lead``, ``touches``, ``stage_changes``, ``as_of``) cut at their
    ``as_of`` straight into the arrays features and rules read: the same cut and dtypes as
    ``visible_history`` of the tables ``lead_histories_of(payloads)`` makes (a test pins it),
    without the frames in between, which cost an online pass more than everything else."""
    as_of_ns = as_ns(_as_of_column([payload["as_of"] for payload in payloads]))
    touch_records, touch_rows = _events(payloads, "touches")
    touches = _typed("touches", touch_records, skip="lead_id")
    kept, touch_age = strictly_before(touch_rows, as_ns(touches["occurred_at"]), as_of_ns)
    stage_records, stage_rows = _events(payloads, "stage_changes")
    stages = _typed("stage_changes", stage_records, skip="lead_id")
    stage_kept, stage_age = strictly_before(stage_rows, as_ns(stages["changed_at"]), as_of_ns)
    return VisibleHistory(
        points=None,
        as_of_ns=as_of_ns,
        leads=_typed("leads", [payload["lead"] for payload in payloads], skip="lead_id"),
        touches=VisibleTouches(
            row=touch_rows[kept],
            age_ns=touch_age,
            **{field: touches[field].codes[kept] for field in TOUCH_VOCABULARIES},
            duration_s=touches["duration_s"][kept],
        ),
        stages=VisibleStages(
            row=stage_rows[stage_kept], age_ns=stage_age, stage=stages["stage"].codes[stage_kept]
        ),
    )


def lead_histories_of(
    payloads: Sequence[Mapping[str, Any]],
) -> tuple[LeadHistory, pd.DataFrame]:
    """Many leads' payloads (``lead``, ``touches``, ``stage_changes``, ``as_of``) -> one history
    and their decision points, so a batch is built in one vectorised pass."""
    lead_ids = [payload["lead"]["lead_id"] for payload in payloads]
    tables = {}
    for table in ("touches", "stage_changes"):
        records, rows = _events(payloads, table)
        lead_id = typed_array(TABLES[table][0], [lead_ids[i] for i in rows])
        tables[table] = pd.DataFrame({"lead_id": lead_id, **_typed(table, records, skip="lead_id")})
    history = LeadHistory(
        leads=pd.DataFrame(_typed("leads", [payload["lead"] for payload in payloads])),
        touches=tables["touches"],
        stage_changes=tables["stage_changes"],
    )
    points = pd.DataFrame(
        {
            "lead_id": history.leads["lead_id"].to_numpy(),
            "as_of": _as_of_column([payload["as_of"] for payload in payloads]),
        }
    )
    return history, points


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


def _as_of_column(values: list[Any]) -> np.ndarray:
    """Decision times -> naive UTC ``datetime64[ns]`` (a missing one stays NaT)."""
    if all(type(v) is datetime for v in values):
        return _timestamps(values)
    return pd.Series(
        [None if v is None else naive_utc(pd.Timestamp(v)) for v in values],
        dtype="datetime64[ns]",
    ).to_numpy()
