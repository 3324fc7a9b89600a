"""Seeded synthetic B2B funnel with a known truth, calibrated to the DOMAIN.md figures.

Why a simulator: real CRM exports hide the answer. Here every transition's true probability
is a logistic function of what the three tables show strictly before the decision time (touch
counts and recency, firmographics, source, lead type and category) and nothing else, so a model
can be judged against the oracle and the learned weights against ``true_effects``.

The story, vectorised over all leads at once (no per-lead Python loops):
1. leads: attributes from CRM-like mixes (with gaps), a latent intent from type, category and fit;
2. organic touches: overdispersed counts, times spread over weeks to months, kinds from the
   lead's intent/job-seeker behaviour profile; newsletter sign-ups and QR scans independent of all;
3. MQL entry driven by intent, at one of the lead's touches (often its demo request);
4. mql_to_sql: true p from the tables before mql time, label ~ Bernoulli(p), SQL within 90 days;
5. touches after MQL depend on that outcome (sales meetings, calls, unsubscribes), so
   post-decision data leaks the label and a leakage test can prove it is never seen;
6. sql_to_won likewise at sql time, then post-SQL touches that depend on won / lost.
Events at or after the data end (``start + days``) are dropped: that is the censoring.
``drifts`` (``features.simulation.drift``) inject shifts with a known start for monitoring.

The steps live in ``features.simulation`` (one module per job); this module only runs them in
order, because the order of the random draws is what makes a seed reproduce the same frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from core.progress import Progress, Step, counted
from features.history import LeadHistory
from features.simulation import params as sp
from features.simulation.codes import DAY
from features.simulation.decisions import delay, mql_times, true_probability, true_within
from features.simulation.drift import Drift, shift_probability, shift_sources, shown_leads
from features.simulation.frames import leads_frame, stages_frame, touches_frame, truth_frame
from features.simulation.leads import draw_intent, draw_leads
from features.simulation.metadata import build_metadata, roc_auc
from features.simulation.stages import stage_changes
from features.simulation.touches import (
    Touches,
    after_decision_touches,
    meetings_before,
    organic_touches,
)

__all__ = ["Simulation", "roc_auc", "simulate", "true_within"]


@dataclass(frozen=True)
class Simulation:
    """Attributes:
    history: the three lead-history tables, validated dtypes.
    truth: lead_id, transition, decision_time, true_probability (of converting within the
        default horizon, given only what happened before decision_time).
    metadata: parameters, seed, achieved rates, and each signal's true effect.
    """

    history: LeadHistory
    truth: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)


def simulate(
    n_leads: int,
    *,
    seed: int,
    start: datetime | pd.Timestamp,
    days: int = 730,
    progress: Progress | None = None,
    params: sp.SimulationParams | None = None,
    drifts: Sequence[Drift] = (),
) -> Simulation:
    """Simulate ``n_leads`` leads created over ``days`` days from ``start``; same seed, same frames.

    Nothing at or after ``start + days`` (the data end) is in the tables, so late leads are
    censored; ``truth`` still has a row for every decision that happened before the data end.
    ``drifts`` shift the sources, the fields shown or the true conversion from their start day
    (recorded in the metadata); without them the frames are exactly those of no drift.
    Progress: its five stages as one counted step.
    """
    with counted(progress, f"simulating {n_leads:,} leads", total=5, unit="stages") as step:
        sim = _simulate(n_leads, seed, start, days, params or sp.SimulationParams(), drifts, step)
        step(5)
    h = sim.history
    if progress:
        progress(f"simulated {len(h.touches):,} touches, {len(h.stage_changes):,} stage changes")
    return sim


def _simulate(
    n_leads: int,
    seed: int,
    start: datetime | pd.Timestamp,
    days: int,
    params: sp.SimulationParams,
    drifts: Sequence[Drift],
    step: Step,
) -> Simulation:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(start)
    if start.tz is not None:
        start = start.tz_convert("UTC").tz_localize(None)
    end_s = days * DAY

    step(0, "leads and their intent")
    leads = shift_sources(draw_leads(rng, n_leads, days), drifts, seed)
    intent = draw_intent(rng, leads)
    step(1, "organic touches")
    organic, first_touch, n_organic = organic_touches(rng, leads, intent)

    step(2, "MQL -> SQL")
    mql_t = mql_times(rng, leads, intent, organic, first_touch, n_organic, params)
    mql = np.flatnonzero(mql_t >= 0)
    p_sql = true_probability("mql_to_sql", [organic], leads, mql, mql_t[mql], params)
    p_sql = shift_probability("mql_to_sql", p_sql, leads, mql, mql_t[mql], drifts)
    is_sql = rng.random(mql.size) < p_sql
    sql = mql[is_sql]
    sql_t = mql_t[sql] + delay(rng, sql.size, "sql")
    after_mql = after_decision_touches(
        rng, mql, mql_t[mql], is_sql, "mql_sql", "mql_nosql", sp.AFTER_MQL_TOUCHES
    )
    meeting = meetings_before(rng, sql, mql_t[sql], sql_t)

    step(3, "SQL -> won")
    days_to_sql = np.log1p((sql_t - mql_t[sql]) / DAY)
    p_won = true_probability(
        "sql_to_won",
        [organic, after_mql, meeting],
        leads,
        sql,
        sql_t,
        params,
        {"days_mql_to_sql": days_to_sql},
    )
    p_won = shift_probability("sql_to_won", p_won, leads, sql, sql_t, drifts)
    is_won = rng.random(sql.size) < p_won
    after_sql = after_decision_touches(rng, sql, sql_t, is_won, "won", "lost", sp.AFTER_SQL_TOUCHES)
    close_t = sql_t + np.where(is_won, delay(rng, sql.size, "won"), delay(rng, sql.size, "lost"))

    step(4, "assembling tables")
    touches = Touches.concat([organic, after_mql, meeting, after_sql])
    del organic, after_mql, after_sql
    stages = stage_changes(rng, leads, mql, mql_t[mql], is_sql, sql_t, close_t, is_won)
    start_ns = start.value
    history = LeadHistory(
        leads_frame(shown_leads(leads, drifts), start_ns),
        touches_frame(touches, end_s, start_ns),
        stages_frame(stages, end_s, start_ns),
    )
    truth = truth_frame(mql, mql_t[mql], p_sql, sql, sql_t, p_won, end_s, start_ns)
    outcomes = {
        "mql": mql,
        "sql": sql,
        "won": sql[is_won],
        "p_sql": p_sql,
        "is_sql": is_sql,
        "p_won": p_won,
        "is_won": is_won,
    }
    metadata = build_metadata(n_leads, seed, start, days, params, leads, outcomes, history)
    if drifts:
        metadata["drifts"] = [{"kind": type(d).__name__, **asdict(d)} for d in drifts]
    return Simulation(history=history, truth=truth, metadata=metadata)
