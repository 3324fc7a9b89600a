"""The lead-history data contract: three tables, their columns, types and allowed values.

Everything that reads, writes, validates or simulates lead history takes its column names and
vocabularies from here, so a new channel or action is added in exactly one place. The prose
version is docs/data-contract.md.

Timestamps are UTC. Inside the project they are tz-naive ``datetime64[ns]`` columns; the loader
converts tz-aware input to UTC and drops the zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import pandas as pd

Kind = Literal["id", "timestamp", "category", "number", "integer", "boolean"]


@dataclass(frozen=True)
class Column:
    """One column of a table.

    Attributes:
        name: column name as it appears in the CSV/Parquet file.
        kind: logical type the loader coerces to.
        required: the column must be present in the file.
        nullable: missing values are allowed (a CRM often lacks them).
        allowed: closed vocabulary for category columns; None means open text.
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] | None = None


SOURCES: tuple[str, ...] = (
    "organic_search",
    "paid_search",
    "linkedin",
    "email",
    "referral",
    "podcast",
    "event",
    "partner",
    "direct",
    "unknown",
)
LEAD_TYPES: tuple[str, ...] = ("informational", "hand_raiser", "transactional")
LEAD_CATEGORIES: tuple[str, ...] = (
    "plain",
    "two_touch",
    "profiling_question",
    "qualified_question",
    "bant",
)
INDUSTRIES: tuple[str, ...] = (
    "higher_education",
    "b2b_services",
    "software_saas",
    "financial_services",
    "b2b_ecommerce",
    "media_publishing",
    "commercial_real_estate",
    "staffing",
    "shipping_logistics",
    "manufacturing",
)
JOB_LEVELS: tuple[str, ...] = (
    "c_level",
    "vp",
    "director",
    "manager",
    "individual_contributor",
    "student",
)
DEPARTMENTS: tuple[str, ...] = (
    "marketing",
    "sales",
    "it",
    "finance",
    "operations",
    "hr",
    "engineering",
    "executive",
    "other",
)
EMAIL_DOMAIN_TYPES: tuple[str, ...] = ("business", "free")

CHANNELS: tuple[str, ...] = (
    "email",
    "web",
    "webinar",
    "event",
    "podcast",
    "linkedin",
    "chatbot",
    "sms",
    "youtube",
    "sdr_call",
)
ACTIONS: tuple[str, ...] = (
    "email_sent",
    "email_open",
    "email_click",
    "page_view",
    "download",
    "newsletter_signup",
    "webinar_attend",
    "event_visit",
    "content_view",
    "qr_scan",
    "demo_request",
    "trial_signup",
    "meeting_booked",
    "call_connected",
    "unsubscribe",
)
PAGE_TYPES: tuple[str, ...] = (
    "product",
    "pricing",
    "case_study",
    "blog",
    "whitepaper",
    "webinar",
    "docs",
    "careers",
    "newsletter",
    "contact",
)

# Touch fields that features and rules match on, with their vocabularies (category codes).
TOUCH_VOCABULARIES: dict[str, tuple[str, ...]] = {
    "channel": CHANNELS,
    "action": ACTIONS,
    "page_type": PAGE_TYPES,
}

# Funnel stages in their only legal order; "lost" may follow any stage before "won".
STAGES: tuple[str, ...] = ("lead", "mql", "sal", "sql", "won", "lost")
STAGE_RANK: dict[str, int] = {"lead": 0, "mql": 1, "sal": 2, "sql": 3, "won": 4, "lost": 4}

LEADS_COLUMNS: tuple[Column, ...] = (
    Column("lead_id", "id"),
    Column("created_at", "timestamp"),
    Column("source", "category", nullable=True, allowed=SOURCES),
    Column("lead_type", "category", allowed=LEAD_TYPES),
    Column("lead_category", "category", nullable=True, allowed=LEAD_CATEGORIES),
    Column("industry", "category", required=False, nullable=True, allowed=INDUSTRIES),
    Column("company_size", "integer", required=False, nullable=True),
    Column("annual_revenue", "number", required=False, nullable=True),
    Column("country", "category", required=False, nullable=True),
    Column("job_level", "category", required=False, nullable=True, allowed=JOB_LEVELS),
    Column("department", "category", required=False, nullable=True, allowed=DEPARTMENTS),
    Column(
        "email_domain_type", "category", required=False, nullable=True, allowed=EMAIL_DOMAIN_TYPES
    ),
    Column("has_phone", "boolean", required=False, nullable=True),
)
TOUCHES_COLUMNS: tuple[Column, ...] = (
    Column("lead_id", "id"),
    Column("occurred_at", "timestamp"),
    Column("channel", "category", allowed=CHANNELS),
    Column("action", "category", allowed=ACTIONS),
    Column("page_type", "category", required=False, nullable=True, allowed=PAGE_TYPES),
    Column("duration_s", "number", required=False, nullable=True),
)
STAGE_CHANGES_COLUMNS: tuple[Column, ...] = (
    Column("lead_id", "id"),
    Column("stage", "category", allowed=STAGES),
    Column("changed_at", "timestamp"),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "leads": LEADS_COLUMNS,
    "touches": TOUCHES_COLUMNS,
    "stage_changes": STAGE_CHANGES_COLUMNS,
}
TIME_COLUMN: dict[str, str] = {
    "leads": "created_at",
    "touches": "occurred_at",
    "stage_changes": "changed_at",
}

# The two funnel transitions a model is trained for: (name, entry stage, target stage).
TRANSITIONS: dict[str, tuple[str, str]] = {
    "mql_to_sql": ("mql", "sql"),
    "sql_to_won": ("sql", "won"),
}


def active_transitions(reached: np.ndarray, lost: np.ndarray) -> dict[str, np.ndarray]:
    """Per transition, the leads it is the active one for, from each lead's highest stage rank
    reached (``reached``, lost aside) and whether it was lost: SQL to won at SQL, MQL to SQL
    before SQL; won and lost leads have none. A lead's priority comes from it, and the API and
    batch scoring count by it the leads a transition without a model leaves unscored."""
    live = ~np.asarray(lost, dtype=bool) & (reached < STAGE_RANK["won"])
    at_sql = reached == STAGE_RANK["sql"]
    return {"mql_to_sql": live & ~at_sql, "sql_to_won": live & at_sql}


def as_ns(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch: exact comparisons and differences
    (missing times become the smallest int64)."""
    return np.asarray(values, dtype="datetime64[ns]").view(np.int64)


def naive_utc(stamp: pd.Timestamp) -> pd.Timestamp:
    """A timestamp in the project's convention: UTC without a zone (zone-less input is UTC)."""
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def column_names(table: str) -> list[str]:
    """Column names of ``table`` in contract order."""
    return [c.name for c in TABLES[table]]


@cache  # one dtype object per column: building a CategoricalDtype re-validates its values
def dtype_of(column: Column) -> object:
    """The in-memory pandas dtype of a validated column.

    Closed vocabularies become categoricals over the contract's values (small and fast over
    tens of millions of touches); ids keep the type they came with (integer or text).
    """
    if column.kind == "timestamp":
        return "datetime64[ns]"
    if column.kind == "category":
        return pd.CategoricalDtype(list(column.allowed)) if column.allowed else "str"
    if column.kind == "integer":
        return "Int64"
    if column.kind == "number":
        return "float64"
    if column.kind == "boolean":
        return "boolean"
    return None  # ids: left as they are


def empty_table(table: str) -> pd.DataFrame:
    """A zero-row table with the contract's columns and dtypes (ids as int64)."""
    return pd.DataFrame(
        {c.name: pd.Series([], dtype=dtype_of(c) or "int64") for c in TABLES[table]}
    )
