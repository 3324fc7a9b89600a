"""When leads reach a decision and their true probability of converting there.

The probability is a logistic function of ``signals`` at the decision time and nothing
else, which is what makes it a known answer a model can be judged against.
"""

from __future__ import annotations

import numpy as np

from core.contract import INDUSTRIES, LEAD_TYPES
from features.simulation import params as sp
from features.simulation.codes import DAY, KIND, Columns, lookup
from features.simulation.signals import lead_signals, touch_signals
from features.simulation.touches import Touches


def delay(rng: np.random.Generator, n: int, stage: str) -> np.ndarray:
    """Seconds to reaching ``stage``: gamma-shaped, always inside the 90-day horizon."""
    scale_days, min_days = sp.STAGE_DELAY_DAYS[stage]
    days = np.clip(rng.gamma(2.0, scale_days, n), min_days, sp.HORIZON_DAYS - 2)
    return (days * DAY).astype(np.int64)


TARGET_STAGE = {"mql_to_sql": "sql", "sql_to_won": "won"}


def delay_cdf(stage: str, days: float) -> float:
    """P(the delay ``delay`` draws for ``stage`` is at most ``days``): the clipped gamma(2, scale)
    in closed form, so the oracle needs no sampling."""
    scale_days, min_days = sp.STAGE_DELAY_DAYS[stage]
    if days < min_days:
        return 0.0
    if days >= sp.HORIZON_DAYS - 2:
        return 1.0
    x = days / scale_days
    return float(1.0 - np.exp(-x) * (1.0 + x))


def true_within(transition: str, probability: np.ndarray, days: float) -> np.ndarray:
    """The oracle's P(converting within ``days`` of the decision time): the true probability of
    converting at all times the chance that the delay (drawn independently of everything
    else) is at most ``days``."""
    return np.asarray(probability, dtype=np.float64) * delay_cdf(TARGET_STAGE[transition], days)


def mql_times(
    rng: np.random.Generator,
    leads: Columns,
    intent: Columns,
    organic: Touches,
    first: np.ndarray,
    count: np.ndarray,
    params: sp.SimulationParams,
) -> np.ndarray:
    """MQL time per lead (-1 = never): just after one of its touches, often its demo request."""
    n = first.size
    offset = lookup(params.industry_offsets, INDUSTRIES, leads["industry"])
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


def true_probability(
    transition: str,
    parts: list[Touches],
    leads: Columns,
    rows: np.ndarray,
    as_of: np.ndarray,
    params: sp.SimulationParams,
    extra: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """True P(transition) of each row: logistic in the signals visible strictly before as_of."""
    values = {
        **touch_signals(parts, rows, as_of, leads["created"].size),
        **lead_signals(leads, rows),
        **(extra or {}),
    }
    values["pricing_page_view_x_company_size_200plus"] = (
        values["pricing_page_view"] * values["company_size>=200"]
    )
    logit = params.intercepts[transition] + lookup(
        params.industry_offsets, INDUSTRIES, leads["industry"][rows]
    )
    for name, effect in params.effects.items():
        logit = logit + getattr(effect, transition) * values[name]
    return 1 / (1 + np.exp(-logit))
