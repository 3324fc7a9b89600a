"""One lead scored online: its payload becomes the same three tables and goes through the same
``features.build.build_features`` as batch training, so there is no training/serving skew.

Only the loading differs from batch: records instead of files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from features.build import build_features
from features.contract import TABLES, dtype_of
from features.history import LeadHistory


def _table(table: str, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Records -> a table with the contract's columns and in-memory dtypes."""
    frame = pd.DataFrame.from_records(list(records), columns=[c.name for c in TABLES[table]])
    for column in TABLES[table]:
        dtype = dtype_of(column)
        if column.kind == "timestamp":
            stamps = pd.to_datetime(frame[column.name], utc=True)
            frame[column.name] = stamps.dt.tz_localize(None).astype("datetime64[ns]")
        elif dtype is not None:
            frame[column.name] = frame[column.name].astype(dtype)
    return frame


def lead_history_of(
    lead: Mapping[str, Any],
    touches: Sequence[Mapping[str, Any]] = (),
    stage_changes: Sequence[Mapping[str, Any]] = (),
) -> LeadHistory:
    """The history of a single lead from plain records (touches and stages need no lead_id)."""
    lead_id = lead["lead_id"]
    return LeadHistory(
        leads=_table("leads", [lead]),
        touches=_table("touches", [{**t, "lead_id": lead_id} for t in touches]),
        stage_changes=_table("stage_changes", [{**s, "lead_id": lead_id} for s in stage_changes]),
    )


def features_at(history: LeadHistory, lead_id: Any, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row of features for ``lead_id`` as it looked just before ``as_of``."""
    as_of = _naive_utc(pd.Timestamp(as_of))
    points = pd.DataFrame(
        {"lead_id": [lead_id], "as_of": pd.Series([as_of], dtype="datetime64[ns]")}
    )
    return build_features(points, history)


def lead_histories_of(
    payloads: Sequence[Mapping[str, Any]],
) -> tuple[LeadHistory, pd.DataFrame]:
    """Many leads' payloads (``lead``, ``touches``, ``stage_changes``, ``as_of``) -> one history
    and their decision points, so a batch is built in one vectorised pass."""
    leads, touches, stages, as_of = [], [], [], []
    for payload in payloads:
        lead_id = payload["lead"]["lead_id"]
        leads.append(payload["lead"])
        touches += [{**t, "lead_id": lead_id} for t in payload.get("touches") or ()]
        stages += [{**s, "lead_id": lead_id} for s in payload.get("stage_changes") or ()]
        as_of.append(_naive_utc(pd.Timestamp(payload["as_of"])))
    history = LeadHistory(
        leads=_table("leads", leads),
        touches=_table("touches", touches),
        stage_changes=_table("stage_changes", stages),
    )
    points = pd.DataFrame(
        {
            "lead_id": history.leads["lead_id"].to_numpy(),
            "as_of": pd.Series(as_of, dtype="datetime64[ns]"),
        }
    )
    return history, points


def _naive_utc(stamp: pd.Timestamp) -> pd.Timestamp:
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp
