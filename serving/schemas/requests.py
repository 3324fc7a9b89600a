"""Request models of the scoring API (``serving.schemas.responses`` has the answers').

Requests carry one lead in the data contract's shape (``core.contract``): its attributes,
touches and stage changes. Closed vocabularies (channel, action, page type, stage, source, ...)
are enums built from the contract, so an unknown value is a 422 naming the field and the
allowed values; open text (country) is accepted as is and a value the model never saw counts
as missing. Timestamps without a zone are UTC. Limits that come from settings (touches per lead,
leads per batch) are checked by the routes, which raise the same 422 shape.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from operator import attrgetter
from typing import Annotated, Any, NotRequired

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
    with_config,
)
from pydantic_core import core_schema
from typing_extensions import TypedDict

from core.contract import (
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
)

# A CRM's clock may run a little ahead of ours: timestamps up to this far in the future pass.
CLOCK_SKEW = timedelta(minutes=5)
_SKEW_SECONDS = CLOCK_SKEW.total_seconds()
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = EARLIEST.replace(tzinfo=None)
_ZERO = timedelta(0)


class _PlainValue:
    """Validates against the enum (so the spec and the 422 name it and its values) but hands on
    the member's text. Pydantic's ``use_enum_values`` reads ``.value``, a Python-level property:
    some 65,000 calls per 1,000-lead batch; ``_value_`` is a plain attribute, read in C."""

    def __get_pydantic_core_schema__(
        self, source: type[StrEnum], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        as_text = core_schema.simple_ser_schema("str")
        return core_schema.no_info_after_validator_function(
            attrgetter("_value_"), handler(source), serialization=as_text
        )


def _enum(name: str, values: tuple[str, ...]) -> Any:
    return Annotated[StrEnum(name, {value: value for value in values}), _PlainValue()]


Channel = _enum("Channel", CHANNELS)
Action = _enum("Action", ACTIONS)
PageType = _enum("PageType", PAGE_TYPES)
Stage = _enum("Stage", STAGES)
Source = _enum("Source", SOURCES)
LeadType = _enum("LeadType", LEAD_TYPES)
LeadCategory = _enum("LeadCategory", LEAD_CATEGORIES)
Industry = _enum("Industry", INDUSTRIES)
JobLevel = _enum("JobLevel", JOB_LEVELS)
Department = _enum("Department", DEPARTMENTS)
EmailDomainType = _enum("EmailDomainType", EMAIL_DOMAIN_TYPES)


def _utc(value: datetime) -> datetime:
    """Zone-less means UTC; every timestamp must lie between 1970 and now (plus clock skew).

    Works on the time since 1970: on Python 3.11 ``replace(tzinfo=...)`` and ``astimezone``
    rebuild the datetime through its constructor, ten times slower than this arithmetic (a
    1,000-lead batch has some 26,000 timestamps), and they overflowed (a 500) at year 1 or 9999.
    """
    since = value - (_NAIVE_EPOCH if value.tzinfo is None else EARLIEST)
    if since < _ZERO:
        raise ValueError("timestamp before 1970-01-01 (give UTC times such as 2025-03-01T09:30Z)")
    if since.total_seconds() > time.time() + _SKEW_SECONDS:
        try:
            shown = (EARLIEST + since).isoformat()
        except OverflowError:  # past 9999-12-31 in UTC
            shown = value.isoformat()
        raise ValueError(f"timestamp {shown} is in the future")
    return EARLIEST + since


def _text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


def _iso_text(value: Any) -> Any:
    # the spec says "string, date-time": no unix seconds, no numbers in disguise (a tuple: an
    # isinstance check against ``str | datetime`` takes four times as long)
    if not isinstance(value, (str, datetime)):
        raise ValueError("give an ISO 8601 time as text, e.g. 2025-03-01T09:30:00Z")
    return value


# Scalars are strict (no "1" for 1, no 0 for false): what the OpenAPI spec says is what passes.
Timestamp = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_utc)]
Text = Annotated[StrictStr, Field(min_length=1, max_length=128), AfterValidator(_text)]
LeadId = Annotated[StrictInt, Field(ge=0, le=2**63 - 1)] | Text
Number = StrictInt | StrictFloat


class _In(BaseModel):
    # a misspelt key is an error, not silently ignored
    model_config = ConfigDict(extra="forbid")


class LeadIn(_In):
    """A lead's attributes as the CRM records them; only ``lead_id``, ``created_at`` and
    ``lead_type`` are required. An unknown attribute value is simply missing (null)."""

    lead_id: LeadId = Field(description="The CRM's id (number or text); echoed back.")
    created_at: Timestamp = Field(description="When the lead was created (UTC if no zone).")
    lead_type: LeadType
    source: Source | None = None
    lead_category: LeadCategory | None = None
    industry: Industry | None = None
    company_size: Annotated[StrictInt, Field(ge=0, le=10_000_000)] | None = Field(
        default=None, description="Employees."
    )
    annual_revenue: Annotated[Number, Field(ge=0, le=1e13, allow_inf_nan=False)] | None = None
    country: Text | None = Field(
        default=None, description="Open text, e.g. DE; a value unseen in training is missing."
    )
    job_level: JobLevel | None = None
    department: Department | None = None
    email_domain_type: EmailDomainType | None = None
    has_phone: StrictBool | None = None


# Touches and stage changes are typed dicts, not models: a 1,000-lead batch carries some 24,000
# touches, and building (then dumping) an object per touch cost more than scoring them. Same
# validation, same 422 locations and messages, same OpenAPI schema names.
_EVENT = ConfigDict(extra="forbid")


@with_config(_EVENT)
class TouchIn(TypedDict):
    """One interaction: an e-mail opened, a page viewed, a webinar attended, ..."""

    occurred_at: Timestamp
    channel: Channel
    action: Action
    # left out = null (filled in by pydantic, so the scorer always finds both keys)
    page_type: NotRequired[Annotated[PageType | None, Field(default=None)]]
    duration_s: NotRequired[
        Annotated[
            Annotated[Number, Field(ge=0, le=86_400, allow_inf_nan=False)] | None,
            Field(default=None, description="Seconds spent, if known (at most a day)."),
        ]
    ]


@with_config(_EVENT)
class StageChangeIn(TypedDict):
    """The lead entered ``stage`` at ``changed_at`` (each stage at most once)."""

    stage: Stage
    changed_at: Timestamp


SCORE_EXAMPLE: dict[str, Any] = {
    "lead": {
        "lead_id": "L-1042",
        "created_at": "2025-01-06T09:15:00Z",
        "lead_type": "hand_raiser",
        "source": "linkedin",
        "lead_category": "bant",
        "industry": "software_saas",
        "company_size": 250,
        "annual_revenue": 30000000,
        "country": "DE",
        "job_level": "director",
        "department": "marketing",
        "email_domain_type": "business",
        "has_phone": True,
    },
    "touches": [
        {
            "occurred_at": "2025-01-07T10:00:00Z",
            "channel": "email",
            "action": "email_open",
        },
        {
            "occurred_at": "2025-01-08T14:02:00Z",
            "channel": "web",
            "action": "page_view",
            "page_type": "pricing",
            "duration_s": 95,
        },
        {
            "occurred_at": "2025-01-09T16:30:00Z",
            "channel": "web",
            "action": "demo_request",
            "page_type": "contact",
        },
    ],
    "stage_changes": [
        {"stage": "lead", "changed_at": "2025-01-06T09:15:00Z"},
        {"stage": "mql", "changed_at": "2025-01-09T17:00:00Z"},
    ],
    "as_of": "2025-01-10T08:00:00Z",
}


class ScoreRequest(_In):
    """One lead's history. Only events strictly before ``as_of`` count, as in training."""

    model_config = ConfigDict(json_schema_extra={"examples": [SCORE_EXAMPLE]})

    lead: LeadIn
    touches: list[TouchIn] = Field(default_factory=list)
    stage_changes: list[StageChangeIn] = Field(default_factory=list)
    as_of: Timestamp | None = Field(
        default=None, description="Score the lead as it looked just before this time [now]."
    )

    @model_validator(mode="after")
    def _consistent_history(self) -> ScoreRequest:
        created = self.lead.created_at
        if self.as_of is not None and self.as_of < created:
            raise ValueError("as_of is before the lead's created_at")
        for i, touch in enumerate(self.touches):
            if touch["occurred_at"] < created:
                raise ValueError(f"touches[{i}].occurred_at is before the lead's created_at")
        seen: set[str] = set()
        for i, change in enumerate(self.stage_changes):
            if change["changed_at"] < created:
                raise ValueError(f"stage_changes[{i}].changed_at is before the lead's created_at")
            if change["stage"] in seen:
                raise ValueError(f"stage_changes: stage {change['stage']!r} is entered twice")
            seen.add(change["stage"])
        ordered = sorted(
            self.stage_changes, key=lambda c: (c["changed_at"], STAGE_RANK[c["stage"]])
        )
        for earlier, later in pairwise(ordered):
            if STAGE_RANK[later["stage"]] < STAGE_RANK[earlier["stage"]]:
                raise ValueError(
                    f"stage_changes: {later['stage']!r} comes after {earlier['stage']!r} (stages "
                    "run lead, mql, sal, sql, then won or lost)"
                )
        if {"won", "lost"} <= seen:
            raise ValueError("stage_changes: a lead cannot be both won and lost")
        return self


class BatchRequest(BaseModel):
    """Up to ``LEADSCORE_MAX_BATCH_LEADS`` leads, each a ScoreRequest; a lead that is invalid
    is reported in its slot and the others are still scored."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"leads": [SCORE_EXAMPLE]}]}
    )

    leads: list[dict[str, Any]] = Field(
        min_length=1,
        description="Each item is a ScoreRequest (lead, touches, stage_changes, as_of). Items "
        "are checked one by one, so a bad lead is reported in its slot, not for the batch.",
    )
