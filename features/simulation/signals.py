"""What the three tables show about a lead strictly before a decision time.

Computed only from columns a user can see (action, page_type, duration_s, firmographics),
named as ``simulation.params`` names the effects, so the truth uses nothing hidden.
"""

from __future__ import annotations

import numpy as np

from core.contract import EMAIL_DOMAIN_TYPES, JOB_LEVELS, LEAD_CATEGORIES, LEAD_TYPES, SOURCES
from features.simulation.codes import DAY, KIND_ACTION, PG, A
from features.simulation.touches import Touches


def touch_signals(
    parts: list[Touches], rows: np.ndarray, as_of: np.ndarray, n: int
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
        """Per-row number of the kept touches matching ``mask``."""
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


def lead_signals(leads: dict, rows: np.ndarray) -> dict[str, np.ndarray]:
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
