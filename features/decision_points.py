"""Decision points: one row per lead and transition, at the moment the lead entered the stage.

A training row for ``mql_to_sql`` is the lead as it looked when it became MQL (its
``decision_time``, which is the row's ``as_of``); its label says whether it reached SQL (or
won, which implies SQL) within the horizon. Rows whose horizon had not elapsed when the data
ends are censored: their label is still unknown, so they are excluded and counted, never
guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.contract import STAGE_RANK, TIME_COLUMN, TRANSITIONS, as_ns
from features.history import LeadHistory
from features.window import NS_PER_DAY


@dataclass(frozen=True)
class DecisionPoints:
    """Attributes:
    rows: lead_id, as_of (the decision time) and label (1 converted within the horizon, 0 not),
        one row per uncensored lead that entered the transition's entry stage.
    censored: leads that entered the stage less than ``horizon_days`` before the data ended.
    censored_converted: of those, how many had already converted (shown so nobody wonders why
        they are missing from the positives).
    """

    rows: pd.DataFrame
    censored: int
    censored_converted: int


def data_end_of(history: LeadHistory) -> pd.Timestamp:
    """The latest timestamp anywhere in the history: the default end of observation."""
    latest = [
        getattr(history, table)[column].max()
        for table, column in TIME_COLUMN.items()
        if len(getattr(history, table))
    ]
    return pd.Timestamp(max(latest))


def _first_entry(stage_changes: pd.DataFrame, stages: list[str]) -> pd.Series:
    """Earliest changed_at per lead among ``stages``."""
    hit = stage_changes[stage_changes["stage"].isin(stages)]
    return hit.groupby("lead_id", observed=True, sort=False)["changed_at"].min()


def decision_points(
    history: LeadHistory,
    transition: str,
    *,
    horizon_days: int,
    data_end: pd.Timestamp,
) -> DecisionPoints:
    """Decision points and labels of ``transition`` ("mql_to_sql" or "sql_to_won").

    The target counts as reached by any stage at or beyond it, except "lost" ("won" without a
    recorded "sql" still passed through SQL). A target reached later than ``horizon_days``
    after the decision time is a negative.
    """
    entry_stage, target_stage = TRANSITIONS[transition]
    target_rank = STAGE_RANK[target_stage]
    reached = [s for s, r in STAGE_RANK.items() if r >= target_rank and s != "lost"]
    entered = _first_entry(history.stage_changes, [entry_stage])
    converted_at = _first_entry(history.stage_changes, reached).reindex(entered.index)

    as_of = entered.to_numpy(dtype="datetime64[ns]")
    delay_ns = as_ns(converted_at) - as_ns(as_of)
    has_converted = converted_at.notna().to_numpy()
    label = has_converted & (delay_ns >= 0) & (delay_ns <= horizon_days * NS_PER_DAY)

    horizon_end = entered + pd.Timedelta(days=horizon_days)
    is_censored = (horizon_end > data_end).to_numpy()
    rows = pd.DataFrame(
        {
            "lead_id": entered.index.to_numpy()[~is_censored],
            "as_of": as_of[~is_censored],
            "label": label[~is_censored].astype(np.int8),
        }
    )
    return DecisionPoints(
        rows=rows.sort_values(["as_of", "lead_id"], kind="stable").reset_index(drop=True),
        censored=int(is_censored.sum()),
        censored_converted=int((is_censored & has_converted).sum()),
    )


def follow_up(history: LeadHistory, transition: str, *, data_end: pd.Timestamp) -> pd.DataFrame:
    """Every decision point of ``transition`` before ``data_end``, censored ones included, with
    what is known of its timing: the censoring-aware counterpart of ``decision_points``.

    Columns: lead_id, as_of (the decision time), converted_days (days from as_of to the target,
    NaN when not reached before ``data_end``), observed_days (days from as_of to ``data_end``:
    how long the lead was watched). A target reached before the decision time counts as never
    reached, as in ``decision_points``. Only stage entries before ``data_end`` are read, so a
    history cut at an earlier date gives what was known then.
    """
    entry_stage, target_stage = TRANSITIONS[transition]
    target_rank = STAGE_RANK[target_stage]
    reached = [s for s, r in STAGE_RANK.items() if r >= target_rank and s != "lost"]
    seen = history.stage_changes[history.stage_changes["changed_at"] < data_end]
    entered = _first_entry(seen, [entry_stage])
    converted_at = _first_entry(seen, reached).reindex(entered.index)
    as_of = entered.to_numpy(dtype="datetime64[ns]")
    delay_days = (as_ns(converted_at) - as_ns(as_of)) / NS_PER_DAY
    delay_days = np.where(converted_at.notna().to_numpy() & (delay_days >= 0), delay_days, np.nan)
    end_ns = pd.Timestamp(data_end).value
    rows = pd.DataFrame(
        {
            "lead_id": entered.index.to_numpy(),
            "as_of": as_of,
            "converted_days": delay_days.astype(np.float64),
            "observed_days": ((end_ns - as_ns(as_of)) / NS_PER_DAY).astype(np.float64),
        }
    )
    return rows.sort_values(["as_of", "lead_id"], kind="stable", ignore_index=True)
