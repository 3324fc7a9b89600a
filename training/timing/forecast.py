"""The pipeline forecast: how many conversions the leads open at ``as_of`` will bring in each
coming week and month, with an interval.

Each open lead (entered the transition's entry stage before ``as_of``, target not reached by
then) adds its chance of converting inside a period, given that it has not converted in the
``age`` days since its decision time: from its hazard curve, (S(age + start) - S(age + end)) /
S(age). A period's count is a sum of independent Bernoulli draws (Poisson-binomial): its mean
is the sum of the chances, and the interval is the normal approximation with variance
sum p(1 - p), which covers the draws' luck, not the model's error.

Leads closed as lost stay in the sum with their chance: the hazard was learned over every lead
that had not converted, lost or not, so the sum over the same population is what it predicts
without bias (the report counts them). Leads older than the last modelled week add nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.decision_points import follow_up
from features.history import LeadHistory
from training.timing.periods import DAYS_PER_PERIOD, between

Z_90 = 1.6448536269514722  # two-sided 90% interval of the normal approximation


@dataclass(frozen=True)
class Period:
    """A coming period: its label, kind ("week", "month" or "next"), and its start and end in
    days after ``as_of``."""

    label: str
    kind: str
    start_days: float
    end_days: float


def coming_periods(as_of: pd.Timestamp, *, weeks: int, months: int) -> list[Period]:
    """The next ``weeks`` seven-day weeks and the calendar months that start within the next
    ``months`` (the first one from ``as_of``), plus "next 30 days"."""
    as_of = pd.Timestamp(as_of)
    out = [Period("next 30 days", "next", 0.0, 30.0)]
    for k in range(weeks):
        start = as_of + pd.Timedelta(days=DAYS_PER_PERIOD * k)
        out.append(Period(f"week of {start:%Y-%m-%d}", "week", 7.0 * k, 7.0 * (k + 1)))
    month = as_of.to_period("M")
    for _ in range(months):
        begin = max(month.start_time, as_of)
        end = (month + 1).start_time
        day = pd.Timedelta(days=1)
        out.append(Period(str(month), "month", (begin - as_of) / day, (end - as_of) / day))
        month += 1
    return out


def open_at(history: LeadHistory, transition: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Leads open for ``transition`` at ``as_of``: decided before it, target not reached by
    then. Columns lead_id, as_of (the decision time), age_days, is_lost (closed as lost)."""
    rows = follow_up(history, transition, data_end=as_of)
    rows = rows[rows["converted_days"].isna()].reset_index(drop=True)
    stages = history.stage_changes
    lost = stages[(stages["stage"] == "lost") & (stages["changed_at"] < as_of)]["lead_id"]
    return pd.DataFrame(
        {
            "lead_id": rows["lead_id"].to_numpy(),
            "as_of": rows["as_of"].to_numpy(),
            "age_days": rows["observed_days"].to_numpy(),
            "is_lost": rows["lead_id"].isin(lost).to_numpy(),
        }
    )


def expected_counts(
    hazards: np.ndarray, age_days: np.ndarray, periods: list[Period]
) -> pd.DataFrame:
    """Per period: expected conversions and the 90% interval (rows in ``periods`` order)."""
    rows = []
    for period in periods:
        p = between(hazards, age_days, period.start_days, period.end_days)
        mean, sd = float(p.sum()), float(np.sqrt((p * (1 - p)).sum()))
        rows.append(
            {
                "period": period.label,
                "kind": period.kind,
                "start_days": period.start_days,
                "end_days": period.end_days,
                "expected": mean,
                "low": max(0.0, mean - Z_90 * sd),
                "high": mean + Z_90 * sd,
            }
        )
    return pd.DataFrame(rows)


def actual_counts(
    history: LeadHistory,
    transition: str,
    open_leads: pd.DataFrame,
    as_of: pd.Timestamp,
    periods: list[Period],
) -> list[int]:
    """What happened (for a backtest on a history that goes on past ``as_of``): conversions of
    ``open_leads`` inside each period."""
    later = follow_up(history, transition, data_end=pd.Timestamp.max)
    later = later[later["lead_id"].isin(open_leads["lead_id"])]
    at = later["as_of"] + pd.to_timedelta(later["converted_days"], unit="D") - as_of
    days = (at.dt.total_seconds() / 86_400).to_numpy()
    return [int(((days > p.start_days) & (days <= p.end_days)).sum()) for p in periods]
