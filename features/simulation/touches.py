"""Touches: the lead's own (organic) engagement and the touches a decision's outcome causes.

Organic touches come before any decision and follow the lead's intent; the touches after a
decision depend on its outcome, which is the leak a leakage test must prove is never seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.contract import LEAD_TYPES
from features.simulation import params as sp
from features.simulation.codes import (
    DAY,
    KIND,
    KIND_ACTION,
    KIND_DURATION,
    KIND_NAMES,
    KIND_PAGE,
    A,
    Columns,
)


@dataclass(frozen=True)
class Touches:
    """Touches as parallel arrays: lead row (0..n-1), t (s since start), kind, page, duration."""

    lead: np.ndarray
    t: np.ndarray
    kind: np.ndarray
    page: np.ndarray
    duration: np.ndarray

    @staticmethod
    def concat(parts: Sequence[Touches]) -> Touches:
        """Keeps the parts' order: ``mql_times`` relies on the organic block coming first."""
        return Touches(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


_FIELDS = ("lead", "t", "kind", "page", "duration")


def _cdf(weights: np.ndarray) -> np.ndarray:
    """Row-wise cumulative distribution of a [rows, kinds] weight table, last column exactly 1."""
    cdf = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    cdf[:, -1] = 1.0
    return cdf


def _organic_profiles() -> np.ndarray:
    """CDF over kinds of the 10 organic profiles: 5 intent buckets x (job seeker or not)."""
    low = np.array([k.low for k in sp.KINDS])
    high = np.array([k.high for k in sp.KINDS])
    seeker = np.array([sp.JOB_SEEKER_FACTOR.get(k.name, 1.0) for k in sp.KINDS])
    rows = []
    for f in np.linspace(0.0, 1.0, len(sp.INTENT_BUCKET_EDGES) + 1):
        rows += [low * (1 - f) + high * f, (low * (1 - f) + high * f) * seeker]
    return _cdf(np.array(rows))


def _sample(rng: np.random.Generator, cdf: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One kind per element, drawn from ``cdf[row]``: one searchsorted over offset CDFs."""
    k = cdf.shape[1]
    flat = (cdf + np.arange(cdf.shape[0])[:, None]).ravel()
    picked = np.searchsorted(flat, row + rng.random(row.size), side="right")
    return np.minimum(picked - row.astype(np.int64) * k, k - 1).astype(np.int8)


def build_touches(
    rng: np.random.Generator,
    lead: np.ndarray,
    t: np.ndarray,
    kind: np.ndarray,
    scale: np.ndarray | None = None,
) -> Touches:
    """Attach page type and duration to drawn touches, with the CRM's gaps."""
    median = KIND_DURATION[kind] * (1.0 if scale is None else scale)
    duration = (median * np.exp(sp.DURATION_SIGMA * rng.standard_normal(kind.size))).round()
    duration[rng.random(kind.size) < sp.DURATION_MISSING] = np.nan
    page = KIND_PAGE[kind].copy()
    dropped = rng.random(kind.size) < sp.PAGE_TYPE_MISSING
    page[(KIND_ACTION[kind] == A["page_view"]) & dropped] = -1
    return Touches(
        lead.astype(np.int32), t.astype(np.int64), kind, page, duration.astype(np.float32)
    )


def _nb(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """Negative-binomial counts around ``mean``: engagement is overdispersed, not Poisson."""
    r = sp.TOUCH_DISPERSION
    return rng.negative_binomial(r, r / (r + mean))


def organic_touches(
    rng: np.random.Generator, leads: Columns, intent: Columns
) -> tuple[Touches, np.ndarray, np.ndarray]:
    """The lead's own engagement: creation touch at created_at, the rest over weeks to months.

    Returns the touches (lead-ordered and time-ordered within lead, newsletter and QR appended
    after all of them), the position of each lead's creation touch and its number of
    sequential touches.
    """
    n = leads["created"].size
    count = 1 + _nb(rng, np.asarray(sp.ORGANIC_TOUCHES_BY_BUCKET)[intent["bucket"]])
    lead = np.repeat(np.arange(n, dtype=np.int32), count)
    first = np.cumsum(count) - count
    kind = _sample(rng, _organic_profiles(), intent["profile"][lead])
    creation = np.array(
        [
            [mix.get(k, 0.0) for k in KIND_NAMES]
            for mix in (sp.CREATION_KIND_MIX[t] for t in LEAD_TYPES)
        ]
    )
    kind[first] = _sample(rng, _cdf(creation), leads["lead_type"])
    span = (
        np.minimum(
            sp.SPAN_MEDIAN_DAYS
            * np.exp(sp.SPAN_SIGMA * rng.standard_normal(n) - 0.15 * intent["z"]),
            sp.SPAN_MAX_DAYS,
        )
        * DAY
    )
    gap = rng.exponential(size=lead.size)
    gap[rng.random(lead.size) < sp.BURST_SHARE] *= sp.BURST_GAP
    gap[first] = 0.0
    within = np.cumsum(gap)
    del gap
    within -= within[first][lead]
    total = within[first + count - 1] + rng.exponential(size=n)
    t = leads["created"][lead] + (within / total[lead] * span[lead]).astype(np.int64)
    del within
    scale = np.where(kind == KIND["product_view"], np.exp(0.2 * (intent["bucket"][lead] - 2)), 1.0)
    main = build_touches(rng, lead, t, kind, scale)
    extras = []
    for name, share, at_creation, repeat in (
        ("newsletter_signup", sp.NEWSLETTER_SHARE, sp.NEWSLETTER_AT_CREATION, 0.0),
        ("qr_scan", sp.QR_SHARE, sp.QR_AT_CREATION, 0.5),
    ):
        who = np.flatnonzero(rng.random(n) < share)
        who = np.repeat(who, 1 + rng.poisson(repeat, who.size))
        offset = rng.random(who.size) * span[who]
        offset[rng.random(who.size) < at_creation] = 0.0
        extras.append(
            build_touches(
                rng,
                who,
                leads["created"][who] + offset.astype(np.int64),
                np.full(who.size, KIND[name], dtype=np.int8),
            )
        )
    return Touches.concat([main, *extras]), first, count


def after_decision_touches(
    rng: np.random.Generator,
    rows: np.ndarray,
    t0: np.ndarray,
    success: np.ndarray,
    yes: str,
    no: str,
    means: Mapping[bool, float],
) -> Touches:
    """Touches after a decision whose mix and volume depend on its outcome (the leak)."""
    weights = np.array([[getattr(k, col) for k in sp.KINDS] for col in (yes, no)])
    count = _nb(rng, np.where(success, means[True], means[False]))
    idx = np.repeat(np.arange(rows.size), count)
    kind = _sample(rng, _cdf(weights), (~success[idx]).astype(np.int8))
    t = t0[idx] + 1 + (rng.random(idx.size) ** 1.3 * sp.AFTER_DAYS * DAY).astype(np.int64)
    return build_touches(rng, rows[idx], t, kind)


def meetings_before(
    rng: np.random.Generator, sql: np.ndarray, mql_t: np.ndarray, sql_t: np.ndarray
) -> Touches:
    """The meeting with an account executive that SQL means, booked shortly before sql time."""
    lead_time = rng.random(sql.size) * np.minimum(2 * DAY, 0.9 * (sql_t - mql_t))
    kind = np.full(sql.size, KIND["sdr_meeting"], dtype=np.int8)
    return build_touches(rng, sql, sql_t - lead_time.astype(np.int64), kind)
