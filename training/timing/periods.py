"""Person-periods and survival: the arithmetic of a discrete-time hazard, in weeks.

A decision row is at risk in week ``k`` (days ``[7k, 7k + 7)`` after its decision time) until
it converts, its observation ends, or the last modelled week passes. A week enters the
training rows only when it was watched to its end or the lead converted in it while watched
to its end: a week cut short by the data's end is left out whole (keeping its conversions but
not its non-conversions would bias the hazard upwards). So a lead still open when the data
ends contributes every full week it was seen, and nothing is guessed about the rest.

``within`` turns weekly hazards into P(converted within ``days``), constant hazard within a
week for the fraction of a week: 1 - prod (1 - h_k), monotone in ``days`` by construction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DAYS_PER_PERIOD = 7


def weeks_for(horizons_days: Sequence[int]) -> int:
    """Weeks the hazard must cover to answer the longest horizon."""
    return max(1, math.ceil(max(horizons_days) / DAYS_PER_PERIOD))


def person_periods(
    converted_days: np.ndarray, observed_days: np.ndarray, weeks: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, week, label) of every week at risk: ``row`` indexes the decision rows, ``label`` is
    1 in the week the row converted. ``converted_days`` NaN = not converted while watched;
    ``observed_days``: days from the decision time to the end of observation."""
    converted = np.asarray(converted_days, dtype=np.float64)
    observed = np.asarray(observed_days, dtype=np.float64)
    event_week = np.where(np.isnan(converted), np.inf, np.floor(converted / DAYS_PER_PERIOD))
    full_weeks = np.floor(np.maximum(observed, 0) / DAYS_PER_PERIOD)
    last = np.minimum(np.minimum(event_week, full_weeks - 1), weeks - 1)
    count = np.maximum(last + 1, 0).astype(np.int64)
    row = np.repeat(np.arange(converted.size, dtype=np.int64), count)
    starts = np.cumsum(count) - count
    week = np.arange(row.size, dtype=np.int64) - np.repeat(starts, count)
    label = (week == event_week[row]).astype(np.int8)
    return row, week, label


def log_survival(hazards: np.ndarray, days: float | np.ndarray) -> np.ndarray:
    """log P(not converted within ``days``) of each row of weekly ``hazards`` (rows x weeks),
    ``days`` one number or one per row; past the last week the hazard is zero."""
    h = np.asarray(hazards, dtype=np.float64)
    n, weeks = h.shape
    log_keep = np.log1p(-h)
    cumulative = np.zeros((n, weeks + 1))
    np.cumsum(log_keep, axis=1, out=cumulative[:, 1:])
    d = np.broadcast_to(np.maximum(np.asarray(days, dtype=np.float64), 0.0), (n,))
    full = np.minimum(np.floor(d / DAYS_PER_PERIOD).astype(np.int64), weeks)
    rows = np.arange(n)
    log_s = cumulative[rows, full]
    partial = full < weeks
    fraction = d / DAYS_PER_PERIOD - full
    log_s[partial] += fraction[partial] * log_keep[rows[partial], full[partial]]
    return log_s


def within(hazards: np.ndarray, horizons_days: Sequence[float]) -> np.ndarray:
    """P(converted within each horizon), rows x horizons, non-decreasing along the horizons."""
    out = np.empty((len(hazards), len(horizons_days)), dtype=np.float64)
    for j, days in enumerate(horizons_days):
        out[:, j] = -np.expm1(log_survival(hazards, days))
    return out


def between(hazards: np.ndarray, age_days: np.ndarray, start: float, end: float) -> np.ndarray:
    """P(converting in days ``(age + start, age + end]`` after the decision | not converted by
    ``age``): what an open lead, ``age_days`` after its decision time, adds to a coming period
    that starts ``start`` and ends ``end`` days from now."""
    age = np.asarray(age_days, dtype=np.float64)
    s_age = log_survival(hazards, age)
    s_start = log_survival(hazards, age + start)
    s_end = log_survival(hazards, age + end)
    out = np.exp(s_start - s_age) - np.exp(s_end - s_age)
    return np.where(np.isfinite(s_age), np.clip(out, 0.0, 1.0), 0.0)
