"""The funnel as stage entries: lead, MQL, SAL, SQL and the won / lost close.

Kept apart from the decisions because most stage entries (pre-MQL losses, SALs of leads
that stall) carry no decision of their own, only the funnel's legal shape.
"""

from __future__ import annotations

import numpy as np

from core.contract import STAGES
from features.simulation import params as sp
from features.simulation.codes import DAY, Columns


def stage_changes(
    rng: np.random.Generator,
    leads: Columns,
    mql: np.ndarray,
    mql_t: np.ndarray,
    is_sql: np.ndarray,
    sql_t: np.ndarray,
    close_t: np.ndarray,
    is_won: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lead row, stage code, t) of every stage entry in legal order, before any data-end cut."""
    n, code = leads["created"].size, {s: i for i, s in enumerate(STAGES)}
    parts = [(np.arange(n), code["lead"], leads["created"]), (mql, code["mql"], mql_t)]
    never = np.setdiff1d(np.arange(n), mql)
    never = never[rng.random(never.size) < sp.PRE_MQL_LOST_SHARE]
    parts.append(
        (
            never,
            code["lost"],
            leads["created"][never]
            + ((14 + rng.exponential(60.0, never.size)) * DAY).astype(np.int64),
        )
    )
    stuck, stuck_t = mql[~is_sql], mql_t[~is_sql]
    has_sal = rng.random(stuck.size) < sp.MQL_NO_SQL_SAL_SHARE
    sal_t = stuck_t + 60 + (np.minimum(rng.exponential(2.0, stuck.size), 30) * DAY).astype(np.int64)
    lost_t = stuck_t + (rng.uniform(7, 150, stuck.size) * DAY).astype(np.int64)
    lost = rng.random(stuck.size) < sp.MQL_NO_SQL_LOST_SHARE
    parts.append((stuck[has_sal], code["sal"], sal_t[has_sal]))
    parts.append(
        (stuck[lost], code["lost"], np.where(has_sal, np.maximum(lost_t, sal_t + 60), lost_t)[lost])
    )
    sql, sql_mql_t = mql[is_sql], mql_t[is_sql]
    sql_sal_t = sql_mql_t + (rng.uniform(0.1, 0.6, sql.size) * (sql_t - sql_mql_t)).astype(np.int64)
    parts += [
        (sql, code["sal"], sql_sal_t),
        (sql, code["sql"], sql_t),
        (sql, np.where(is_won, code["won"], code["lost"]), close_t),
    ]
    lead = np.concatenate([p[0] for p in parts])
    stage = np.concatenate([np.broadcast_to(p[1], p[0].shape) for p in parts]).astype(np.int8)
    return lead, stage, np.concatenate([p[2] for p in parts])
