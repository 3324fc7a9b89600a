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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from features import simulate_params as sp
from features.contract import (
    ACTIONS,
    CHANNELS,
    DEPARTMENTS,
    EMAIL_DOMAIN_TYPES,
    INDUSTRIES,
    JOB_LEVELS,
    LEAD_CATEGORIES,
    LEAD_TYPES,
    PAGE_TYPES,
    SOURCES,
    STAGE_RANK,
    STAGES,
    TABLES,
    dtype_of,
)
from features.history import LeadHistory

DAY = 86_400  # the simulation clock counts whole seconds since ``start``
KIND_NAMES = [k.name for k in sp.KINDS]
KIND = {name: i for i, name in enumerate(KIND_NAMES)}
KIND_CHANNEL = np.array([CHANNELS.index(k.channel) for k in sp.KINDS], dtype=np.int8)
KIND_ACTION = np.array([ACTIONS.index(k.action) for k in sp.KINDS], dtype=np.int8)
KIND_PAGE = np.array(
    [PAGE_TYPES.index(k.page_type) if k.page_type else -1 for k in sp.KINDS], dtype=np.int8
)
KIND_DURATION = np.array([k.duration_s or np.nan for k in sp.KINDS])
COUNTRIES = tuple(c for c in sp.COUNTRY_MIX if c is not None)
A = {a: i for i, a in enumerate(ACTIONS)}
PG = {p: i for i, p in enumerate(PAGE_TYPES)}


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
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Touches:
    """Touches as parallel arrays: lead row (0..n-1), t (s since start), kind, page, duration."""

    lead: np.ndarray
    t: np.ndarray
    kind: np.ndarray
    page: np.ndarray
    duration: np.ndarray

    @staticmethod
    def concat(parts: Sequence[_Touches]) -> _Touches:
        return _Touches(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


_FIELDS = ("lead", "t", "kind", "page", "duration")


def simulate(
    n_leads: int,
    *,
    seed: int,
    start: datetime | pd.Timestamp,
    days: int = 730,
    progress: Callable[[str], None] | None = None,
    params: sp.SimulationParams | None = None,
) -> Simulation:
    """Simulate ``n_leads`` leads created over ``days`` days from ``start``; same seed, same frames.

    Nothing at or after ``start + days`` (the data end) is in the tables, so late leads are
    censored; ``truth`` still has a row for every decision that happened before the data end.
    """
    params = params or sp.SimulationParams()
    say = progress or (lambda _message: None)
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(start)
    if start.tz is not None:
        start = start.tz_convert("UTC").tz_localize(None)
    end_s = days * DAY

    say(f"simulating {n_leads:,} leads...")
    leads = _draw_leads(rng, n_leads, days)
    intent = _intent(rng, leads)
    say("simulating organic touches...")
    organic, first_touch, n_organic = _organic_touches(rng, leads, intent)

    say("simulating MQL -> SQL...")
    mql_t = _mql_times(rng, leads, intent, organic, first_touch, n_organic, params)
    mql = np.flatnonzero(mql_t >= 0)
    p_sql = _probability("mql_to_sql", [organic], leads, mql, mql_t[mql], params)
    is_sql = rng.random(mql.size) < p_sql
    sql = mql[is_sql]
    sql_t = mql_t[sql] + _delay(rng, sql.size, "sql")
    after_mql = _after_decision(
        rng, mql, mql_t[mql], is_sql, "mql_sql", "mql_nosql", sp.AFTER_MQL_TOUCHES
    )
    meeting = _meetings_before(rng, sql, mql_t[sql], sql_t)

    say("simulating SQL -> won...")
    days_to_sql = np.log1p((sql_t - mql_t[sql]) / DAY)
    p_won = _probability(
        "sql_to_won",
        [organic, after_mql, meeting],
        leads,
        sql,
        sql_t,
        params,
        {"days_mql_to_sql": days_to_sql},
    )
    is_won = rng.random(sql.size) < p_won
    after_sql = _after_decision(rng, sql, sql_t, is_won, "won", "lost", sp.AFTER_SQL_TOUCHES)
    close_t = sql_t + np.where(is_won, _delay(rng, sql.size, "won"), _delay(rng, sql.size, "lost"))

    say("assembling tables...")
    touches = _Touches.concat([organic, after_mql, meeting, after_sql])
    del organic, after_mql, after_sql
    stages = _stage_changes(rng, leads, mql, mql_t[mql], is_sql, sql_t, close_t, is_won)
    start_ns = start.value
    history = LeadHistory(
        _leads_frame(leads, start_ns),
        _touches_frame(touches, end_s, start_ns),
        _stages_frame(stages, end_s, start_ns),
    )
    truth = _truth_frame(mql, mql_t[mql], p_sql, sql, sql_t, p_won, end_s, start_ns)
    outcomes = {
        "mql": mql,
        "sql": sql,
        "won": sql[is_won],
        "p_sql": p_sql,
        "is_sql": is_sql,
        "p_won": p_won,
        "is_won": is_won,
    }
    metadata = _metadata(n_leads, seed, start, days, params, leads, outcomes, history)
    say(f"simulated {len(history.touches):,} touches, {len(history.stage_changes):,} stage changes")
    return Simulation(history=history, truth=truth, metadata=metadata)


# --- leads and latent intent -----------------------------------------------------------------
def _codes(rng: np.random.Generator, mix: dict, vocab: Sequence, n: int) -> np.ndarray:
    """Draw ``n`` values from ``mix`` as codes into ``vocab`` (-1 = missing)."""
    p = np.array(list(mix.values()), dtype=float)
    codes = np.array([-1 if k is None else list(vocab).index(k) for k in mix], dtype=np.int8)
    return codes[rng.choice(len(codes), size=n, p=p / p.sum())]


def _draw_leads(rng: np.random.Generator, n: int, days: int) -> dict[str, np.ndarray]:
    size = np.minimum(
        np.round(sp.COMPANY_SIZE_MEDIAN * np.exp(sp.COMPANY_SIZE_SIGMA * rng.standard_normal(n))),
        300_000,
    ).clip(1)
    revenue = size * sp.REVENUE_PER_EMPLOYEE * np.exp(sp.REVENUE_SIGMA * rng.standard_normal(n))
    leads = {
        "created": np.sort(rng.integers(0, days * DAY, n)),
        "source": _codes(rng, sp.SOURCE_MIX, SOURCES, n),
        "lead_type": _codes(rng, sp.LEAD_TYPE_MIX, LEAD_TYPES, n),
        "lead_category": _codes(rng, sp.CATEGORY_MIX, LEAD_CATEGORIES, n),
        "industry": _codes(rng, sp.INDUSTRY_MIX, INDUSTRIES, n),
        "true_size": size,
        "company_size": np.where(rng.random(n) < sp.COMPANY_SIZE_MISSING, np.nan, size),
        "annual_revenue": np.where(rng.random(n) < sp.REVENUE_MISSING, np.nan, revenue.round(-3)),
        "country": _codes(rng, sp.COUNTRY_MIX, COUNTRIES, n),
        "job_level": _codes(rng, sp.JOB_LEVEL_MIX, JOB_LEVELS, n),
        "department": _codes(rng, sp.DEPARTMENT_MIX, DEPARTMENTS, n),
        "email_domain_type": _codes(rng, sp.EMAIL_DOMAIN_MIX, EMAIL_DOMAIN_TYPES, n),
        "has_phone": _codes(rng, sp.HAS_PHONE_MIX, (False, True), n),
    }
    return leads


def _lookup(table: dict, vocab: Sequence, codes: np.ndarray) -> np.ndarray:
    """Per-row value of ``table`` keyed by vocabulary value (None = missing code -1)."""
    values = np.array([table.get(v, 0.0) for v in vocab] + [table.get(None, 0.0)])
    return values[codes]


def _intent(rng: np.random.Generator, leads: dict) -> dict[str, np.ndarray]:
    """Latent buying intent: shapes behaviour and MQL entry, never the true probabilities."""
    n = leads["created"].size
    z = (
        rng.standard_normal(n)
        + _lookup(sp.INTENT_BY_TYPE, LEAD_TYPES, leads["lead_type"])
        + _lookup(sp.INTENT_BY_CATEGORY, LEAD_CATEGORIES, leads["lead_category"])
        + _lookup(sp.INTENT_BY_JOB_LEVEL, JOB_LEVELS, leads["job_level"])
        + 0.15 * np.clip(np.log10(leads["true_size"]) - 2, -2, 2)
    )
    student = leads["job_level"] == JOB_LEVELS.index("student")
    seeker = rng.random(n) < np.where(
        student, sp.JOB_SEEKER_SHARE["student"], sp.JOB_SEEKER_SHARE["other"]
    )
    bucket = np.searchsorted(sp.INTENT_BUCKET_EDGES, z).astype(np.int8)
    return {"z": z, "bucket": bucket, "profile": (2 * bucket + seeker).astype(np.int8)}


# --- touches ---------------------------------------------------------------------------------
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


def _touches(
    rng: np.random.Generator,
    lead: np.ndarray,
    t: np.ndarray,
    kind: np.ndarray,
    scale: np.ndarray | None = None,
) -> _Touches:
    """Attach page type and duration to drawn touches, with the CRM's gaps."""
    median = KIND_DURATION[kind] * (1.0 if scale is None else scale)
    duration = (median * np.exp(sp.DURATION_SIGMA * rng.standard_normal(kind.size))).round()
    duration[rng.random(kind.size) < sp.DURATION_MISSING] = np.nan
    page = KIND_PAGE[kind].copy()
    dropped = rng.random(kind.size) < sp.PAGE_TYPE_MISSING
    page[(KIND_ACTION[kind] == A["page_view"]) & dropped] = -1
    return _Touches(
        lead.astype(np.int32), t.astype(np.int64), kind, page, duration.astype(np.float32)
    )


def _nb(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    r = sp.TOUCH_DISPERSION
    return rng.negative_binomial(r, r / (r + mean))


def _organic_touches(
    rng: np.random.Generator, leads: dict, intent: dict
) -> tuple[_Touches, np.ndarray, np.ndarray]:
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
    main = _touches(rng, lead, t, kind, scale)
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
            _touches(
                rng,
                who,
                leads["created"][who] + offset.astype(np.int64),
                np.full(who.size, KIND[name], dtype=np.int8),
            )
        )
    return _Touches.concat([main, *extras]), first, count


def _after_decision(
    rng: np.random.Generator,
    rows: np.ndarray,
    t0: np.ndarray,
    success: np.ndarray,
    yes: str,
    no: str,
    means: dict,
) -> _Touches:
    """Touches after a decision whose mix and volume depend on its outcome (the leak)."""
    weights = np.array([[getattr(k, col) for k in sp.KINDS] for col in (yes, no)])
    count = _nb(rng, np.where(success, means[True], means[False]))
    idx = np.repeat(np.arange(rows.size), count)
    kind = _sample(rng, _cdf(weights), (~success[idx]).astype(np.int8))
    t = t0[idx] + 1 + (rng.random(idx.size) ** 1.3 * sp.AFTER_DAYS * DAY).astype(np.int64)
    return _touches(rng, rows[idx], t, kind)


def _meetings_before(
    rng: np.random.Generator, sql: np.ndarray, mql_t: np.ndarray, sql_t: np.ndarray
) -> _Touches:
    """The meeting with an account executive that SQL means, booked shortly before sql time."""
    lead_time = rng.random(sql.size) * np.minimum(2 * DAY, 0.9 * (sql_t - mql_t))
    kind = np.full(sql.size, KIND["sdr_meeting"], dtype=np.int8)
    return _touches(rng, sql, sql_t - lead_time.astype(np.int64), kind)


# --- decisions -------------------------------------------------------------------------------
def _delay(rng: np.random.Generator, n: int, stage: str) -> np.ndarray:
    """Seconds to reaching ``stage``: gamma-shaped, always inside the 90-day horizon."""
    scale_days, min_days = sp.STAGE_DELAY_DAYS[stage]
    days = np.clip(rng.gamma(2.0, scale_days, n), min_days, sp.HORIZON_DAYS - 2)
    return (days * DAY).astype(np.int64)


def _mql_times(
    rng: np.random.Generator,
    leads: dict,
    intent: dict,
    organic: _Touches,
    first: np.ndarray,
    count: np.ndarray,
    params: sp.SimulationParams,
) -> np.ndarray:
    """MQL time per lead (-1 = never): just after one of its touches, often its demo request."""
    n = first.size
    offset = _lookup(params.industry_offsets, INDUSTRIES, leads["industry"])
    logit = params.intercepts["lead_to_mql"] + sp.MQL_INTENT_SLOPE * intent["z"] + offset
    is_mql = rng.random(n) < 1 / (1 + np.exp(-logit))
    pos = first + (rng.beta(1.5, 2.5, n) * count).astype(np.int64)
    eager = leads["lead_type"] != LEAD_TYPES.index("informational")
    eager &= rng.random(n) < sp.MQL_AT_CREATION_SHARE
    pos[eager] = first[eager]
    demo = np.flatnonzero(
        np.isin(organic.kind[: count.sum()], [KIND["demo_request"], KIND["chatbot_demo_request"]])
    )
    demo_lead, at = np.unique(organic.lead[demo], return_index=True)
    on_demo = rng.random(demo_lead.size) < sp.MQL_AT_DEMO_SHARE
    pos[demo_lead[on_demo]] = demo[at][on_demo]
    quick = rng.random(n) < sp.MQL_QUICK_SHARE
    slow = np.minimum(rng.exponential(sp.MQL_SLOW_LAG_DAYS, n), sp.MQL_MAX_LAG_DAYS)
    lag = np.where(quick, rng.exponential(sp.MQL_QUICK_LAG_DAYS, n), slow)
    return np.where(is_mql, organic.t[pos] + 60 + (lag * DAY).astype(np.int64), -1)


def _probability(
    transition: str,
    parts: list[_Touches],
    leads: dict,
    rows: np.ndarray,
    as_of: np.ndarray,
    params: sp.SimulationParams,
    extra: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """True P(transition) of each row: logistic in the signals visible strictly before as_of."""
    values = {
        **_touch_signals(parts, rows, as_of, leads["created"].size),
        **_lead_signals(leads, rows),
        **(extra or {}),
    }
    values["pricing_page_view_x_company_size_200plus"] = (
        values["pricing_page_view"] * values["company_size>=200"]
    )
    logit = params.intercepts[transition] + _lookup(
        params.industry_offsets, INDUSTRIES, leads["industry"][rows]
    )
    for name, effect in params.effects.items():
        logit = logit + getattr(effect, transition) * values[name]
    return 1 / (1 + np.exp(-logit))


def _touch_signals(
    parts: list[_Touches], rows: np.ndarray, as_of: np.ndarray, n: int
) -> dict[str, np.ndarray]:
    """Touch signals per row from the observable columns (action, page_type, duration_s)."""
    position = np.full(n, -1, dtype=np.int64)
    position[rows] = np.arange(rows.size)
    keep = []
    for part in parts:
        r = position[part.lead]
        hit = np.flatnonzero(r >= 0)
        age = as_of[r[hit]] - part.t[hit]
        seen = age > 0
        keep.append(
            (
                r[hit][seen],
                age[seen],
                part.kind[hit][seen],
                part.page[hit][seen],
                part.duration[hit][seen],
            )
        )
    r, age, kind, page, duration = (np.concatenate(c) for c in zip(*keep, strict=True))
    action, m = KIND_ACTION[kind], rows.size

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(r[mask], minlength=m).astype(float)

    view, demo = action == A["page_view"], action == A["demo_request"]
    engage = action != A["email_sent"]
    product = view & (page == PG["product"])
    minutes = np.bincount(r[product], weights=np.nan_to_num(duration[product]), minlength=m) / 60
    last = np.full(m, np.inf)
    np.minimum.at(last, r[engage], age[engage])
    return {
        "email_open": np.log1p(count(action == A["email_open"])),
        "email_click": np.log1p(count(action == A["email_click"])),
        "product_page_minutes": np.log1p(minutes),
        "pricing_page_view": np.log1p(count(view & (page == PG["pricing"]))),
        "case_study_view": np.log1p(count(page == PG["case_study"])),
        "download": np.log1p(count(action == A["download"])),
        "webinar_attend": np.log1p(count(action == A["webinar_attend"])),
        "event_visit": np.log1p(count(action == A["event_visit"])),
        "careers_page_view": np.log1p(count(page == PG["careers"])),
        "unsubscribe": (count(action == A["unsubscribe"]) > 0).astype(float),
        "newsletter_signup": (count(action == A["newsletter_signup"]) > 0).astype(float),
        "qr_scan": np.log1p(count(action == A["qr_scan"])),
        "demo_request_7d": (count(demo & (age <= 7 * DAY)) > 0).astype(float),
        "demo_request_older": (count(demo & (age > 7 * DAY)) > 0).astype(float),
        "trial_signup": (count(action == A["trial_signup"]) > 0).astype(float),
        "meeting_booked": np.log1p(count(action == A["meeting_booked"])),
        "call_connected": np.log1p(count(action == A["call_connected"])),
        "engagement_7d": np.log1p(count(engage & (age <= 7 * DAY))),
        "days_since_last_engagement": np.log1p(np.where(np.isinf(last), 0.0, last / DAY)),
        "days_mql_to_sql": np.zeros(m),
    }


def _lead_signals(leads: dict, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Firmographic indicators named ``column=value``, as the effects table names them."""
    out: dict[str, np.ndarray] = {}
    for column, vocab in (
        ("lead_type", LEAD_TYPES),
        ("lead_category", LEAD_CATEGORIES),
        ("source", SOURCES),
        ("job_level", JOB_LEVELS),
        ("email_domain_type", EMAIL_DOMAIN_TYPES),
    ):
        codes = leads[column][rows]
        for i, value in enumerate(vocab):
            out[f"{column}={value}"] = (codes == i).astype(float)
    out["has_phone=true"] = (leads["has_phone"][rows] == 1).astype(float)
    size = leads["company_size"][rows]
    out["company_size<50"] = (size < 50).astype(float)
    out["company_size>=200"] = (size >= 200).astype(float)
    out["company_size>=1000"] = (size >= 1000).astype(float)
    out["company_size_missing"] = np.isnan(size).astype(float)
    return out


# --- stage changes, frames and metadata ------------------------------------------------------
def _stage_changes(
    rng: np.random.Generator,
    leads: dict,
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


def _timestamps(seconds: np.ndarray, start_ns: int) -> np.ndarray:
    return (start_ns + seconds.astype(np.int64) * 10**9).view("datetime64[ns]")


def _categorical(codes: np.ndarray, table: str, column: str) -> pd.Categorical:
    dtype = dtype_of(next(c for c in TABLES[table] if c.name == column))
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _leads_frame(leads: dict, start_ns: int) -> pd.DataFrame:
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


def _touches_frame(touches: _Touches, end_s: int, start_ns: int) -> pd.DataFrame:
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


def _stages_frame(stages: tuple, end_s: int, start_ns: int) -> pd.DataFrame:
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


def _truth_frame(
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


def roc_auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve via ranks (ties averaged): the oracle's ranking quality."""
    label = np.asarray(label, dtype=bool)
    pos, neg = int(label.sum()), int((~label).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = pd.Series(np.asarray(score)).rank().to_numpy()
    return float((ranks[label].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _mean(values: np.ndarray) -> float:
    """Mean that is NaN, not a warning, for a tiny run without any such row."""
    return float(values.mean()) if values.size else float("nan")


def _rate_by(codes: np.ndarray, vocab: Sequence[str], hit: np.ndarray) -> dict[str, float]:
    return {v: float(hit[codes == i].mean()) for i, v in enumerate(vocab) if (codes == i).any()}


def _metadata(
    n: int,
    seed: int,
    start: pd.Timestamp,
    days: int,
    params: sp.SimulationParams,
    leads: dict,
    out: dict,
    history: LeadHistory,
) -> dict:
    """Parameters, true effects and the achieved (eventual, ignoring the data end) rates."""
    customer = np.zeros(n, dtype=bool)
    customer[out["won"]] = True

    return {
        "seed": seed,
        "n_leads": n,
        "start": start.isoformat(),
        "days": days,
        "data_end": (start + pd.Timedelta(days=days)).isoformat(),
        "horizon_days": sp.HORIZON_DAYS,
        "parameters": params.describe(),
        "true_effects": {
            name: {
                "mql_to_sql": e.mql_to_sql,
                "sql_to_won": e.sql_to_won,
                "description": e.description,
            }
            for name, e in params.all_effects().items()
        },
        "achieved_rates": {
            "note": "eventual outcomes of all simulated leads, as if the data never ended",
            "lead_to_mql": out["mql"].size / n,
            "mql_to_sql": _mean(out["is_sql"]),
            "sql_to_won": _mean(out["is_won"]),
            "lead_to_customer": float(customer.mean()),
            "lead_to_customer_by_lead_category": _rate_by(
                leads["lead_category"], LEAD_CATEGORIES, customer
            ),
            "lead_to_customer_by_industry": _rate_by(leads["industry"], INDUSTRIES, customer),
            "lead_to_customer_by_lead_type": _rate_by(leads["lead_type"], LEAD_TYPES, customer),
            "mean_true_probability": {
                "mql_to_sql": _mean(out["p_sql"]),
                "sql_to_won": _mean(out["p_won"]),
            },
            "oracle_auc": {
                "mql_to_sql": roc_auc(out["p_sql"], out["is_sql"]),
                "sql_to_won": roc_auc(out["p_won"], out["is_won"]),
            },
        },
        "counts": {
            "leads": n,
            "touches": len(history.touches),
            "stage_changes": len(history.stage_changes),
            "touches_per_lead": len(history.touches) / n,
        },
    }
