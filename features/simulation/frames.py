"""Turning the simulation's arrays into contract-shaped frames, censored at the data end.

This is the only place that knows the contract's dtypes and orderings, and the only place
that applies the data end, so everything upstream can simulate whole funnels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.contract import STAGE_RANK, STAGES, TABLES, dtype_of
from features.simulation.codes import COUNTRIES, KIND_ACTION, KIND_CHANNEL, Columns
from features.simulation.touches import Touches


def _timestamps(seconds: np.ndarray, start_ns: int) -> np.ndarray:
    """One integer add to naive datetime64[ns]: no per-row Timestamp objects."""
    return (start_ns + seconds.astype(np.int64) * 10**9).view("datetime64[ns]")


def _categorical(codes: np.ndarray, table: str, column: str) -> pd.Categorical:
    """Codes straight into the contract's dtype (-1 = missing), so the frames validate as-is."""
    dtype = dtype_of(next(c for c in TABLES[table] if c.name == column))
    return pd.Categorical.from_codes(codes, dtype=dtype)


def leads_frame(leads: Columns, start_ns: int) -> pd.DataFrame:
    """The leads table in contract order; code -1 becomes the dtype's missing value."""
    n = leads["created"].size
    frame = pd.DataFrame(
        {
            "lead_id": np.arange(1, n + 1, dtype=np.int64),
            "created_at": _timestamps(leads["created"], start_ns),
        }
    )
    for column in ("source", "lead_type", "lead_category", "industry"):
        frame[column] = _categorical(leads[column], "leads", column)
    frame["company_size"] = pd.array(leads["company_size"], dtype="Int64")
    frame["annual_revenue"] = leads["annual_revenue"].astype(np.float64)
    country = np.array([*COUNTRIES, None], dtype=object)[leads["country"]]
    frame["country"] = pd.Series(country, dtype="str")
    for column in ("job_level", "department", "email_domain_type"):
        frame[column] = _categorical(leads[column], "leads", column)
    phone = leads["has_phone"]
    frame["has_phone"] = pd.arrays.BooleanArray(phone == 1, phone < 0)
    return frame


def touches_frame(touches: Touches, end_s: int, start_ns: int) -> pd.DataFrame:
    """Touches before the data end, ordered by lead and time."""
    kept = np.flatnonzero(touches.t < end_s)
    order = kept[
        np.argsort((touches.lead[kept].astype(np.int64) << 32) | touches.t[kept], kind="stable")
    ]
    kind = touches.kind[order]
    return pd.DataFrame(
        {
            "lead_id": touches.lead[order].astype(np.int64) + 1,
            "occurred_at": _timestamps(touches.t[order], start_ns),
            "channel": _categorical(KIND_CHANNEL[kind], "touches", "channel"),
            "action": _categorical(KIND_ACTION[kind], "touches", "action"),
            "page_type": _categorical(touches.page[order], "touches", "page_type"),
            "duration_s": touches.duration[order].astype(np.float64),
        }
    )


def stages_frame(
    stages: tuple[np.ndarray, np.ndarray, np.ndarray], end_s: int, start_ns: int
) -> pd.DataFrame:
    """Stage entries before the data end; same-instant entries ordered by funnel rank."""
    lead, stage, t = stages
    kept = t < end_s
    lead, stage, t = lead[kept], stage[kept], t[kept]
    rank = np.array([STAGE_RANK[s] for s in STAGES])[stage]
    order = np.lexsort((rank, t, lead))
    return pd.DataFrame(
        {
            "lead_id": lead[order].astype(np.int64) + 1,
            "stage": _categorical(stage[order], "stage_changes", "stage"),
            "changed_at": _timestamps(t[order], start_ns),
        }
    )


def truth_frame(
    mql: np.ndarray,
    mql_t: np.ndarray,
    p_sql: np.ndarray,
    sql: np.ndarray,
    sql_t: np.ndarray,
    p_won: np.ndarray,
    end_s: int,
    start_ns: int,
) -> pd.DataFrame:
    """One row per lead and transition it entered before the data end."""
    frames = []
    for name, rows, t, p in (("mql_to_sql", mql, mql_t, p_sql), ("sql_to_won", sql, sql_t, p_won)):
        kept = t < end_s
        frames.append(
            pd.DataFrame(
                {
                    "lead_id": rows[kept].astype(np.int64) + 1,
                    "transition": pd.Series(name, index=range(int(kept.sum())), dtype="str"),
                    "decision_time": _timestamps(t[kept], start_ns),
                    "true_probability": p[kept].astype(np.float64),
                }
            )
        )
    truth = pd.concat(frames, ignore_index=True)
    return truth.sort_values(["lead_id", "decision_time"], kind="stable", ignore_index=True)
