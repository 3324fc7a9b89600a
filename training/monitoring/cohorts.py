"""Who was scored, week by week, and what became of them: pure functions over frames.

- ``population``: one transition's scored leads in [since, until): the first score of each
  lead whose status was ``open`` (an MQL for ``mql_to_sql``, an SQL for ``sql_to_won``),
  because the model was trained at the moment a lead entered that stage. Later scores of the
  same lead, hypothetical scores and scores of leads already past the transition are set
  aside and counted per reason, never silently.
- Weeks end at ``until`` (the last week is the seven days before it), so a weekly cron run
  judges the week just ended.
- ``with_outcomes``: whether each lead reached the transition's target within
  ``outcome_days`` of its ``as_of`` (as the training label counts it from the decision time),
  and whether its weekly cohort has matured: the week's end plus ``outcome_days`` lies before
  ``known_at`` (the end of the outcome data). Leads of a cohort not yet matured carry no
  outcome at all, so nothing can judge them early.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.contract import STAGE_RANK, TRANSITIONS
from training.monitoring.store import FEATURE_PREFIX

WEEK = pd.Timedelta(days=7)


@dataclass(frozen=True)
class Population:
    """Attributes:
    frame: one row per lead: lead_id, as_of, week (its start), probability, hand_set_points,
        passes_threshold, version, then one column per recorded feature.
    set_aside: rows of the period not in ``frame``, counted per reason.
    """

    frame: pd.DataFrame
    set_aside: dict[str, int] = field(default_factory=dict)


def week_of(as_of: pd.Series, until: pd.Timestamp) -> pd.Series:
    """The start of each time's week, weeks ending at ``until`` (a week holds its start)."""
    weeks_back = ((until - as_of - pd.Timedelta(1, "ns")) // WEEK).astype(np.int64)
    return until - (weeks_back + 1) * WEEK


def _features(scores: pd.DataFrame) -> pd.DataFrame:
    """The recorded features' values as columns named as the features."""
    recorded = [c for c in scores.columns if c.startswith(FEATURE_PREFIX)]
    return scores[recorded].rename(columns=lambda c: c.removeprefix(FEATURE_PREFIX))


def population(
    scores: pd.DataFrame, transition: str, *, since: pd.Timestamp, until: pd.Timestamp
) -> Population:
    """The first open score of each lead of ``transition`` scored in [since, until).

    ``scores``: ``training.monitoring.store.read_scores`` (the period's scores plus earlier
    scores of the same leads).
    """
    in_period = (scores["as_of"] >= since) & (scores["as_of"] < until)
    status = scores[f"{transition}_status"]
    is_open = status == "open"
    set_aside: dict[str, int] = {}
    other = status[in_period & ~is_open].fillna("unrecorded").value_counts()
    for name, count in other.items():
        set_aside[f"status {name} (the transition was not open)"] = int(count)
    ordered = scores[is_open].sort_values(["as_of", "id"], kind="stable")
    first = ordered.drop_duplicates("lead_id", keep="first")
    before = set(first.loc[first["as_of"] < since, "lead_id"])
    first = first[first["as_of"] >= since]
    period_open = ordered[ordered["as_of"] >= since]
    again = int(period_open["lead_id"].isin(before).sum())
    repeats = len(period_open) - again - len(first)
    if again:  # not the period's leads: they entered the transition before it
        set_aside["scored again (first scored before the period)"] = again
    if repeats:
        set_aside["scored again (the lead's first score in the period counts)"] = repeats
    frame = pd.DataFrame(
        {
            "lead_id": first["lead_id"].astype(str).to_numpy(),
            "as_of": first["as_of"].to_numpy(),
            "week": week_of(first["as_of"], until).to_numpy(),
            "probability": first[f"{transition}_probability"].astype(float).to_numpy(),
            "hand_set_points": first["hand_set_points"].astype(float).to_numpy(),
            "passes_threshold": first["passes_threshold"].astype(float).to_numpy() > 0,
            "version": first[f"{transition}_version"].fillna("").astype(str).to_numpy(),
        }
    )
    features = _features(first).reset_index(drop=True)
    frame = pd.concat([frame, features.drop(columns=frame.columns, errors="ignore")], axis=1)
    return Population(frame=frame, set_aside=set_aside)


def target_stages(transition: str) -> list[str]:
    """Stages that mean the transition's target was reached ("won" implies SQL; never lost)."""
    target_rank = STAGE_RANK[TRANSITIONS[transition][1]]
    return [stage for stage, rank in STAGE_RANK.items() if rank >= target_rank and stage != "lost"]


def matured_until(known_at: pd.Timestamp, outcome_days: int) -> pd.Timestamp:
    """Cohorts whose week ends at or before this time have matured."""
    return known_at - pd.Timedelta(days=outcome_days)


def with_outcomes(
    frame: pd.DataFrame,
    stage_changes: pd.DataFrame,
    known_leads: Iterable[str],
    transition: str,
    *,
    outcome_days: int,
    known_at: pd.Timestamp,
) -> pd.DataFrame:
    """``frame`` (a ``Population.frame``) with ``matured`` (its cohort's outcome window has
    closed by ``known_at``), ``known`` (the lead is in the outcome data) and ``converted``
    (target reached in [as_of, as_of + outcome_days]; NaN unless matured and known).

    ``stage_changes``: the CRM's stage changes, lead ids as they are there (compared as text);
    only changes before ``known_at`` count.
    """
    window = pd.Timedelta(days=outcome_days)
    out = frame.copy()
    out["matured"] = (out["week"] + WEEK) <= matured_until(known_at, outcome_days)
    known = pd.Index(np.asarray([str(lead) for lead in known_leads], dtype=object))
    out["known"] = out["lead_id"].astype(object).isin(known)
    hits = stage_changes[
        stage_changes["stage"].isin(target_stages(transition))
        & (stage_changes["changed_at"] < known_at)
    ]
    hits = pd.DataFrame(
        {"lead_id": hits["lead_id"].astype(str).to_numpy(), "at": hits["changed_at"].to_numpy()}
    )
    pairs = out[["lead_id", "as_of"]].reset_index().merge(hits, on="lead_id", how="inner")
    inside = (pairs["at"] >= pairs["as_of"]) & (pairs["at"] <= pairs["as_of"] + window)
    reached = np.zeros(len(out), dtype=bool)
    reached[pairs.loc[inside, "index"].to_numpy()] = True
    judged = (out["matured"] & out["known"]).to_numpy()
    out["converted"] = np.where(judged, reached.astype(float), np.nan)
    return out
