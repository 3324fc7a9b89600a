"""Stage-order checks across a lead's stage changes: the funnel only moves forward, once.

A repeated entry of the same stage is a CRM double-save: the earliest is kept and the rest set
aside. Stages that run backwards, or a lead that both wins and loses, cannot be true; since no
one row is to blame, the whole lead is set aside (with its events) by the caller.
"""

from __future__ import annotations

import numpy as np

from core.contract import STAGE_RANK, STAGES, as_ns
from features.validation.reasons import Reason, Table


def set_aside_repeated_stages(table: Table, lead_pos: np.ndarray) -> None:
    """A lead enters each stage once: keep the earliest entry, set aside later repeats."""
    rows = np.flatnonzero(table.kept())
    lead = lead_pos[rows]
    stage = table.columns["stage"].cat.codes.to_numpy()[rows]
    order = np.lexsort((as_ns(table.columns["changed_at"])[rows], stage, lead))
    later, earlier = order[1:], order[:-1]
    repeat = (lead[later] == lead[earlier]) & (stage[later] == stage[earlier])
    mask = np.zeros(len(table.code), dtype=bool)
    mask[rows[later[repeat]]] = True
    table.set_aside(mask, Reason.REPEATED_STAGE)


def impossible_stage_orders(table: Table, lead_pos: np.ndarray, n_leads: int) -> np.ndarray:
    """Leads (by position, plus a last always-False slot for -1) whose stages run backwards.

    Sorted by time, with rank breaking ties, a lead's stage ranks never fall; and a lead ends
    once: won and lost together, or any stage after either, cannot both be true.
    """
    rows = np.flatnonzero(table.kept())
    lead = lead_pos[rows]
    rank = np.array([STAGE_RANK[s] for s in STAGES])[table.columns["stage"].cat.codes.to_numpy()]
    rank = rank[rows]
    order = np.lexsort((rank, as_ns(table.columns["changed_at"])[rows], lead))
    lead_s, rank_s = lead[order], rank[order]
    backwards = (lead_s[1:] == lead_s[:-1]) & (rank_s[1:] < rank_s[:-1])
    bad = np.zeros(n_leads + 1, dtype=bool)
    bad[lead_s[1:][backwards]] = True
    endings = np.bincount(lead[rank == STAGE_RANK["won"]], minlength=n_leads + 1)
    bad |= endings > 1
    bad[-1] = False
    return bad
