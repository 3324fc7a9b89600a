"""Constants of the synthetic funnel: population mixes, touch kinds and true effects.

Kept apart from ``features.simulate`` so the mechanics read as a story and the numbers as a
table. Mixes and benchmark targets follow DOMAIN.md (the seed articles). The category and
industry effects and the intercepts were tuned offline (fixed-point iterations on 400k-600k
leads, then checked on other seeds) so that lead -> customer lands on ``CATEGORY_TARGETS`` /
``INDUSTRY_TARGETS``, SQL -> won on ``SQL_TO_WON_TARGET`` and MQL entry on
``LEAD_TO_MQL_TARGET``. Change a behaviour number and the calibration tests say whether the
tuned ones need redoing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

HORIZON_DAYS = 90  # every SQL / won happens within this many days of its decision time

# --- who the leads are (probabilities; None = missing in the CRM) --------------------------
SOURCE_MIX = {
    "organic_search": 0.22,
    "paid_search": 0.12,
    "linkedin": 0.14,
    "email": 0.10,
    "referral": 0.06,
    "podcast": 0.03,
    "event": 0.08,
    "partner": 0.12,
    "direct": 0.05,
    "unknown": 0.08,
}
LEAD_TYPE_MIX = {"informational": 0.90, "hand_raiser": 0.04, "transactional": 0.06}
CATEGORY_MIX = {
    "plain": 0.47,
    "two_touch": 0.26,
    "profiling_question": 0.10,
    "qualified_question": 0.08,
    "bant": 0.06,
    None: 0.03,
}
INDUSTRY_MIX = {
    "higher_education": 0.081,
    "b2b_services": 0.126,
    "software_saas": 0.216,
    "financial_services": 0.054,
    "b2b_ecommerce": 0.099,
    "media_publishing": 0.0225,
    "commercial_real_estate": 0.045,
    "staffing": 0.0405,
    "shipping_logistics": 0.09,
    "manufacturing": 0.126,
    None: 0.10,
}
JOB_LEVEL_MIX = {
    "c_level": 0.05,
    "vp": 0.07,
    "director": 0.13,
    "manager": 0.28,
    "individual_contributor": 0.33,
    "student": 0.06,
    None: 0.08,
}
DEPARTMENT_MIX = {
    "marketing": 0.22,
    "sales": 0.15,
    "it": 0.15,
    "finance": 0.08,
    "operations": 0.12,
    "hr": 0.05,
    "engineering": 0.10,
    "executive": 0.05,
    "other": 0.04,
    None: 0.04,
}
EMAIL_DOMAIN_MIX = {"business": 0.79, "free": 0.18, None: 0.03}
HAS_PHONE_MIX = {True: 0.60, False: 0.35, None: 0.05}
COUNTRY_MIX = {
    "DE": 0.42,
    "AT": 0.09,
    "CH": 0.09,
    "NL": 0.06,
    "GB": 0.08,
    "FR": 0.05,
    "US": 0.08,
    "PL": 0.04,
    "IT": 0.04,
    "ES": 0.03,
    None: 0.02,
}
COMPANY_SIZE_MEDIAN, COMPANY_SIZE_SIGMA, COMPANY_SIZE_MISSING = 60.0, 1.6, 0.15
REVENUE_PER_EMPLOYEE, REVENUE_SIGMA, REVENUE_MISSING = 180_000.0, 0.5, 0.25

# --- benchmark targets (DOMAIN.md) ---------------------------------------------------------
CATEGORY_TARGETS = {
    "plain": 0.015,
    "two_touch": 0.025,
    "profiling_question": 0.039,
    "qualified_question": 0.039,
    "bant": 0.06,
}
INDUSTRY_TARGETS = {
    "higher_education": 0.014,
    "b2b_services": 0.027,
    "software_saas": 0.011,
    "financial_services": 0.0501,
    "b2b_ecommerce": 0.018,
    "media_publishing": 0.10,
    "commercial_real_estate": 0.028,
    "staffing": 0.051,
    "shipping_logistics": 0.027,
    "manufacturing": 0.025,
}
SQL_TO_WON_TARGET = 0.20
LEAD_TO_MQL_TARGET = 0.35

# --- latent intent: drives behaviour and MQL entry, never the true probabilities ----------
INTENT_BY_TYPE = {"informational": 0.0, "hand_raiser": 1.5, "transactional": 0.9}
INTENT_BY_CATEGORY = {
    None: 0.0,
    "plain": 0.0,
    "two_touch": 0.15,
    "profiling_question": 0.3,
    "qualified_question": 0.35,
    "bant": 0.55,
}
INTENT_BY_JOB_LEVEL = {
    None: 0.0,
    "c_level": 0.3,
    "vp": 0.3,
    "director": 0.2,
    "manager": 0.1,
    "individual_contributor": 0.0,
    "student": -0.8,
}
INTENT_BUCKET_EDGES = (-0.8, -0.2, 0.4, 1.0)  # 5 behaviour profiles, low .. high intent
JOB_SEEKER_SHARE = {"student": 0.7, "other": 0.03}  # latent: browses careers pages


class Kind(NamedTuple):
    """One kind of touch and how often each behaviour profile produces it (relative weights).

    low/high: organic touches of the lowest/highest intent bucket (others interpolate);
    mql_sql/mql_nosql: touches after MQL for leads that will/won't reach SQL;
    won/lost: touches after SQL for deals that will be won/lost.
    """

    name: str
    channel: str
    action: str
    page_type: str | None
    duration_s: float | None  # median duration; None = the CRM records none
    low: float
    high: float
    mql_sql: float
    mql_nosql: float
    won: float
    lost: float


# fmt: off
KINDS: tuple[Kind, ...] = (
    #    name, channel, action, page_type, duration_s, low, high, mql_sql, mql_nosql, won, lost
    Kind("email_sent", "email", "email_sent", None, None, 40, 26, 22, 45, 20, 45),
    Kind("email_open", "email", "email_open", None, None, 9, 18, 14, 10, 14, 8),
    Kind("email_click", "email", "email_click", None, None, 2, 5, 4, 2, 4, 1.5),
    Kind("blog_view", "web", "page_view", "blog", 70, 12, 5, 2, 8, 2, 8),
    Kind("product_view", "web", "page_view", "product", 50, 4, 10, 8, 5, 8, 4),
    Kind("pricing_view", "web", "page_view", "pricing", 40, 1, 5, 7, 2, 8, 2),
    Kind("case_study_view", "web", "page_view", "case_study", 100, 1, 4, 5, 2, 5, 1.5),
    Kind("docs_view", "web", "page_view", "docs", 90, 2, 4, 5, 2, 8, 2),
    Kind("careers_view", "web", "page_view", "careers", 45, 3, 0.3, 0.3, 2, 0.3, 2),
    Kind("webinar_page_view", "web", "page_view", "webinar", 30, 2, 2, 1, 2, 1, 1.5),
    Kind("contact_view", "web", "page_view", "contact", 25, 0.5, 2, 3, 1, 2, 0.5),
    Kind("whitepaper_download", "web", "download", "whitepaper", None, 3, 3, 1.5, 2, 1, 1.5),
    Kind("case_study_download", "web", "download", "case_study", None, 0.5, 1.5, 2, 0.5, 1.5, 0.5),
    Kind("webinar_attend", "webinar", "webinar_attend", "webinar", 2400, 0.5, 2.5, 1.5, 1, 1, 0.5),
    Kind("event_visit", "event", "event_visit", None, None, 0.5, 1.2, 1, 0.5, 1, 0.5),
    Kind("podcast_listen", "podcast", "content_view", None, 900, 1.5, 1.5, 0.5, 1, 0.5, 1),
    Kind("linkedin_view", "linkedin", "content_view", None, None, 3, 3, 2, 3, 2, 3),
    Kind("youtube_view", "youtube", "content_view", None, 240, 2, 1.5, 1, 1.5, 1, 1.5),
    Kind("chatbot_chat", "chatbot", "content_view", None, 120, 0.5, 1, 1, 0.5, 1, 0.5),
    Kind("sms_click", "sms", "content_view", None, None, 0.5, 0.7, 0.5, 0.5, 0.5, 0.5),
    Kind("demo_request", "web", "demo_request", "contact", None, 0.05, 0.8, 3, 0.5, 1, 0.2),
    Kind("chatbot_demo_request", "chatbot", "demo_request", None, None, 0.02, 0.3, 1, 0.2, 0.3, 0.1),  # noqa: E501
    Kind("trial_signup", "web", "trial_signup", "product", None, 0.05, 0.6, 2, 0.3, 2, 0.3),
    Kind("meeting_booked", "web", "meeting_booked", "contact", None, 0.02, 0.4, 3, 0.3, 3, 0.3),
    Kind("sdr_meeting", "sdr_call", "meeting_booked", None, None, 0, 0, 4, 0.5, 6, 0.5),
    Kind("sdr_call_connected", "sdr_call", "call_connected", None, 420, 0.2, 0.6, 8, 4, 8, 3),
    Kind("unsubscribe", "email", "unsubscribe", None, None, 1.5, 0.2, 0.2, 3, 0.2, 3),
    # drawn once per lead, independently of intent: popular, and worth nothing
    Kind("newsletter_signup", "web", "newsletter_signup", "newsletter", None, 0, 0, 0, 0, 0, 0),
    Kind("qr_scan", "event", "qr_scan", None, None, 0, 0, 0, 0, 0, 0),
)
JOB_SEEKER_FACTOR = {
    "careers_view": 10.0, "blog_view": 1.3, "pricing_view": 0.3, "demo_request": 0.2,
    "trial_signup": 0.2, "meeting_booked": 0.2, "unsubscribe": 1.5,
}
CREATION_KIND_MIX = {  # the touch that created the lead, at created_at
    "informational": {
        "whitepaper_download": 45, "case_study_download": 8, "webinar_attend": 12,
        "event_visit": 10, "linkedin_view": 10, "chatbot_chat": 5, "podcast_listen": 5,
        "blog_view": 5,
    },
    "hand_raiser": {"meeting_booked": 60, "demo_request": 25, "chatbot_demo_request": 15},
    "transactional": {"contact_view": 35, "demo_request": 35, "trial_signup": 30},
}
NEWSLETTER_SHARE, NEWSLETTER_AT_CREATION = 0.30, 0.75  # opt-in on the lead form
QR_SHARE, QR_AT_CREATION = 0.10, 0.5  # badge scan at a fair created the lead
# fmt: on

# --- timing and volume --------------------------------------------------------------------
ORGANIC_TOUCHES_BY_BUCKET = (16.0, 17.0, 18.0, 20.0, 22.0)  # mean, besides the creation touch
TOUCH_DISPERSION = 1.5  # negative-binomial size: small = overdispersed
SPAN_MEDIAN_DAYS, SPAN_SIGMA, SPAN_MAX_DAYS = 50.0, 0.7, 180.0
BURST_SHARE, BURST_GAP = 0.35, 0.05  # share of touches that follow the previous one closely
AFTER_MQL_TOUCHES = {True: 16.0, False: 9.0}  # mean, by reached SQL
AFTER_SQL_TOUCHES = {True: 14.0, False: 7.0}  # mean, by won
AFTER_DAYS = 100.0  # post-decision touches spread over this many days
DURATION_SIGMA, DURATION_MISSING, PAGE_TYPE_MISSING = 0.8, 0.10, 0.05
MQL_AT_CREATION_SHARE = 0.7  # hand-raisers and transactional leads: MQL on their first touch
MQL_AT_DEMO_SHARE = 0.6  # leads with a demo request: MQL right after their first one
MQL_QUICK_SHARE, MQL_QUICK_LAG_DAYS = 0.65, 0.25  # MQL hours after the triggering touch ...
MQL_SLOW_LAG_DAYS, MQL_MAX_LAG_DAYS = 12.0, 60.0  # ... or at a later review: silence matters
STAGE_DELAY_DAYS = {"sql": (8.0, 0.5), "won": (15.0, 1.0), "lost": (20.0, 1.0)}  # gamma scale, min
PRE_MQL_LOST_SHARE = 0.10  # non-MQL leads disqualified ("lost") after their activity
MQL_NO_SQL_SAL_SHARE, MQL_NO_SQL_LOST_SHARE = 0.5, 0.65


@dataclass(frozen=True)
class Effect:
    """True effect of one signal on the log-odds of each transition (value x coefficient)."""

    mql_to_sql: float
    sql_to_won: float
    description: str


def _level(column: str, value: str, sql: float, won: float, note: str = "") -> tuple:
    return f"{column}={value}", Effect(sql, won, f"indicator: {column} is {value}{note}")


# Per-transition intercepts and MQL entry (tuned). Industry offsets also shift MQL entry.
INTERCEPTS = {"lead_to_mql": -1.12, "mql_to_sql": -2.90, "sql_to_won": -2.78}
MQL_INTENT_SLOPE = 1.0

_COUNT = "log1p(number of {} before decision_time)"
TOUCH_EFFECTS: dict[str, Effect] = {
    "email_open": Effect(0.20, 0.05, _COUNT.format("email_open touches")),
    "email_click": Effect(0.20, 0.05, _COUNT.format("email_click touches")),
    "product_page_minutes": Effect(
        0.25, 0.10, "log1p(minutes on product pages (page_view, duration_s) before decision)"
    ),
    "pricing_page_view": Effect(0.10, 0.05, _COUNT.format("pricing page views")),
    "pricing_page_view_x_company_size_200plus": Effect(
        0.90, 0.40, "interaction: log1p(pricing page views) if company_size >= 200, else 0"
    ),
    "case_study_view": Effect(0.60, 0.50, _COUNT.format("touches with page_type case_study")),
    "download": Effect(0.10, 0.00, _COUNT.format("download touches")),
    "webinar_attend": Effect(0.70, 0.40, _COUNT.format("webinar_attend touches")),
    "event_visit": Effect(0.15, 0.10, _COUNT.format("event_visit touches")),
    "careers_page_view": Effect(-0.80, -0.50, _COUNT.format("careers page touches")),
    "unsubscribe": Effect(-1.00, -0.80, "indicator: any unsubscribe before decision_time"),
    "newsletter_signup": Effect(0.0, 0.0, "indicator: any newsletter_signup (no true effect)"),
    "qr_scan": Effect(0.0, 0.0, _COUNT.format("qr_scan touches") + " (no true effect)"),
    "demo_request_7d": Effect(1.40, 0.80, "indicator: a demo_request in the 7 days before"),
    "demo_request_older": Effect(0.20, 0.10, "indicator: a demo_request more than 7 days before"),
    "trial_signup": Effect(0.50, 0.60, "indicator: any trial_signup before decision_time"),
    "meeting_booked": Effect(0.60, 0.30, _COUNT.format("meeting_booked touches")),
    "call_connected": Effect(0.30, 0.35, _COUNT.format("call_connected touches")),
    "engagement_7d": Effect(
        0.35, 0.30, "log1p(touches other than email_sent in the 7 days before decision_time)"
    ),
    "days_since_last_engagement": Effect(
        -0.35, -0.30, "log1p(days since the last touch other than email_sent): silence"
    ),
    "days_mql_to_sql": Effect(0.0, -0.30, "log1p(days from mql to sql): slow deals lose"),
}
FIRMOGRAPHIC_EFFECTS: dict[str, Effect] = dict(
    [
        _level("lead_type", "hand_raiser", 1.2, 0.8),
        _level("lead_type", "transactional", 0.6, 0.4),
        _level("source", "referral", 0.35, 0.3),
        _level("source", "event", 0.15, 0.1),
        _level("source", "direct", 0.25, 0.2),
        _level("source", "podcast", 0.10, 0.0),
        _level("source", "partner", -0.15, -0.1),
        _level("source", "paid_search", -0.10, 0.0),
        _level("job_level", "c_level", 0.4, 0.6),
        _level("job_level", "vp", 0.35, 0.5),
        _level("job_level", "director", 0.3, 0.3),
        _level("job_level", "manager", 0.1, 0.0),
        _level("job_level", "individual_contributor", -0.1, -0.2),
        _level("job_level", "student", -1.2, -1.5),
        _level("email_domain_type", "free", -0.5, -0.4),
        _level("has_phone", "true", 0.3, 0.1),
        ("company_size<50", Effect(-0.3, -0.2, "indicator: company_size below 50")),
        ("company_size>=200", Effect(0.15, 0.0, "indicator: company_size 200 or more")),
        ("company_size>=1000", Effect(0.15, -0.1, "indicator: company_size 1000 or more")),
        ("company_size_missing", Effect(-0.1, -0.1, "indicator: company_size unknown")),
    ]
)
CATEGORY_EFFECTS: dict[str, Effect] = dict(  # tuned: mql_to_sql carries the category spread
    _level("lead_category", c, sql, won, " (tuned to the category's lead -> customer rate)")
    for c, sql, won in (
        ("plain", -0.05, 0.0),
        ("two_touch", 0.96, 0.0),
        ("profiling_question", 1.85, 0.1),
        ("qualified_question", 1.68, 0.1),
        ("bant", 2.46, 0.3),
    )
)
INDUSTRY_OFFSETS = {  # tuned: same log-odds shift at MQL entry, mql_to_sql and sql_to_won
    "higher_education": -0.20,
    "b2b_services": 0.23,
    "software_saas": -0.34,
    "financial_services": 0.71,
    "b2b_ecommerce": -0.03,
    "media_publishing": 1.28,
    "commercial_real_estate": 0.29,
    "staffing": 0.71,
    "shipping_logistics": 0.24,
    "manufacturing": 0.19,
}


@dataclass(frozen=True)
class SimulationParams:
    """The tunable numbers of one simulation run (defaults: the calibrated funnel).

    Attributes:
        intercepts: log-odds intercepts of MQL entry, mql_to_sql and sql_to_won.
        effects: signal name -> true effect on each transition's log-odds.
        industry_offsets: industry -> log-odds shift of MQL entry and both transitions.
    """

    intercepts: dict[str, float] = field(default_factory=lambda: dict(INTERCEPTS))
    effects: dict[str, Effect] = field(
        default_factory=lambda: {**TOUCH_EFFECTS, **FIRMOGRAPHIC_EFFECTS, **CATEGORY_EFFECTS}
    )
    industry_offsets: dict[str, float] = field(default_factory=lambda: dict(INDUSTRY_OFFSETS))

    def all_effects(self) -> dict[str, Effect]:
        """Every true effect, industry included, as recorded in the metadata."""
        industry = dict(
            _level("industry", i, v, v, " (tuned; also shifts MQL entry)")
            for i, v in self.industry_offsets.items()
        )
        return {**self.effects, **industry}

    def describe(self) -> dict:
        """JSON-ready parameters for the metadata: intercepts, offsets, mixes and targets."""

        def keyed(mix: dict) -> dict[str, float]:
            return {"missing" if k is None else str(k).lower(): v for k, v in mix.items()}

        mixes = {
            "source": SOURCE_MIX,
            "lead_type": LEAD_TYPE_MIX,
            "lead_category": CATEGORY_MIX,
            "industry": INDUSTRY_MIX,
            "job_level": JOB_LEVEL_MIX,
            "email_domain_type": EMAIL_DOMAIN_MIX,
        }
        return {
            "intercepts": dict(self.intercepts),
            "industry_offsets": dict(self.industry_offsets),
            "mql_intent_slope": MQL_INTENT_SLOPE,
            "mixes": {name: keyed(mix) for name, mix in mixes.items()},
            "targets": {
                "lead_category": CATEGORY_TARGETS,
                "industry": INDUSTRY_TARGETS,
                "sql_to_won": SQL_TO_WON_TARGET,
                "lead_to_mql": LEAD_TO_MQL_TARGET,
            },
        }
