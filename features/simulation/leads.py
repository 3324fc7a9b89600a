"""Drawing the leads themselves and the latent intent that drives their behaviour.

Intent is hidden on purpose: it shapes touches and MQL entry but never the true
probabilities, so a model can only recover it through what the tables show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.contract import (
    DEPARTMENTS,
    EMAIL_DOMAIN_TYPES,
    INDUSTRIES,
    JOB_LEVELS,
    LEAD_CATEGORIES,
    LEAD_TYPES,
    SOURCES,
)
from features.simulation import params as sp
from features.simulation.codes import COUNTRIES, DAY, Columns, lookup


def _codes(
    rng: np.random.Generator, mix: Mapping[Any, float], vocab: Sequence[Any], n: int
) -> np.ndarray:
    """Draw ``n`` values from ``mix`` as codes into ``vocab`` (-1 = missing)."""
    p = np.array(list(mix.values()), dtype=float)
    codes = np.array([-1 if k is None else list(vocab).index(k) for k in mix], dtype=np.int8)
    return codes[rng.choice(len(codes), size=n, p=p / p.sum())]


def draw_leads(rng: np.random.Generator, n: int, days: int) -> Columns:
    """Firmographics from CRM-like mixes, with the CRM's gaps.

    ``true_size`` stays in the columns though no table shows it: intent follows the real
    company size even where ``company_size`` is missing.
    """
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


def draw_intent(rng: np.random.Generator, leads: Columns) -> Columns:
    """Latent buying intent: shapes behaviour and MQL entry, never the true probabilities."""
    n = leads["created"].size
    z = (
        rng.standard_normal(n)
        + lookup(sp.INTENT_BY_TYPE, LEAD_TYPES, leads["lead_type"])
        + lookup(sp.INTENT_BY_CATEGORY, LEAD_CATEGORIES, leads["lead_category"])
        + lookup(sp.INTENT_BY_JOB_LEVEL, JOB_LEVELS, leads["job_level"])
        + 0.15 * np.clip(np.log10(leads["true_size"]) - 2, -2, 2)
    )
    student = leads["job_level"] == JOB_LEVELS.index("student")
    seeker = rng.random(n) < np.where(
        student, sp.JOB_SEEKER_SHARE["student"], sp.JOB_SEEKER_SHARE["other"]
    )
    bucket = np.searchsorted(sp.INTENT_BUCKET_EDGES, z).astype(np.int8)
    return {"z": z, "bucket": bucket, "profile": (2 * bucket + seeker).astype(np.int8)}
