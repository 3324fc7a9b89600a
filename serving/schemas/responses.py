"""Response models of the scoring API: the documented shape of every answer.

The scoring routes write their answers as JSON directly (``serving.api.routes``), so these models
are the OpenAPI contract; the schemathesis test checks every answer against them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class ModelRef(BaseModel):
    name: str = Field(description="Registered model, e.g. leadscore-mql-to-sql.")
    version: str | None = Field(description="Registry version (null when served from a path).")
    alias: str | None = Field(description="Registry alias served, e.g. champion.")


class Reason(BaseModel):
    """One feature's push on the model's log-odds (SHAP value, before calibration); for a model
    that starts from the hand-set rules, ``your_rules`` is the rules' push (value: the points)."""

    feature: str
    value: float | str | None = Field(description="The feature's value for this lead.")
    contribution: float = Field(description="SHAP value on the log-odds (+ raises, - lowers).")
    text: str = Field(description="The reason in words, e.g. '3 touches of pricing content ...'")


TransitionStatus = Literal[
    "open", "hypothetical", "converted", "lost", "not_reached", "unavailable"
]


class TransitionOut(BaseModel):
    """One funnel transition for this lead.

    status: ``open`` (the lead is in the transition's entry stage: probability of reaching the
    target within the horizon), ``hypothetical`` (not yet in the entry stage: the probability
    if it entered it at as_of), ``converted`` (the target was already reached), ``lost`` (the
    lead was lost first), ``not_reached`` (too early in the funnel for this model),
    ``unavailable`` (no model serves this transition yet: no champion registered; the lead's
    priority comes from the other one). Only ``open`` and ``hypothetical`` carry a probability.
    """

    status: TransitionStatus
    probability: float | None = Field(description="Calibrated probability, or null.")
    within_days: dict[str, float] | None = Field(
        default=None,
        description="P(reaching the target within N days of as_of) per horizon N (keys are days,"
        ' e.g. {"30": 0.12, "60": 0.2, "90": 0.24}; LEADSCORE_HORIZONS_DAYS at training),'
        " non-decreasing in N, from the censoring-aware weekly hazard model; null where"
        " probability is null or the model has no timing part.",
    )
    note: str
    model: ModelRef
    reasons_up: list[Reason] | None = Field(
        default=None, description="Strongest reasons raising the probability (if requested)."
    )
    reasons_down: list[Reason] | None = Field(
        default=None, description="Strongest reasons lowering the probability (if requested)."
    )


class HandSetOut(BaseModel):
    """The team's hand-set rules applied to the same history (the baseline)."""

    points: float
    threshold: float
    passes_threshold: bool
    points_per_rule: dict[str, float]


Priority = Literal["hot", "warm", "cold", "closed"]


class ScoreOut(BaseModel):
    lead_id: int | str
    as_of: datetime = Field(description="The time the lead was scored at (UTC).")
    stage: str = Field(description="Latest stage entered before as_of ('lead' if none).")
    priority: Priority = Field(
        description="hot: at least twice the transition's base rate; warm: at least the base "
        "rate; cold: below it; closed: won or lost."
    )
    mql_to_sql: TransitionOut
    sql_to_won: TransitionOut
    hand_set: HandSetOut


class LeadError(BaseModel):
    """Why one lead of a batch was not scored; ``errors`` has the 422 shape."""

    index: int
    lead_id: Any = None
    errors: list[dict[str, Any]]


class BatchItemOut(BaseModel):
    index: int
    result: ScoreOut | None = None
    error: LeadError | None = None


class BatchOut(BaseModel):
    scored: int
    invalid: int
    results: list[BatchItemOut] = Field(description="One entry per lead, in request order.")


class ModelOut(BaseModel):
    transition: str
    name: str
    version: str | None
    alias: str | None
    source: str = Field(description="'registry' or the folder the bundle came from.")
    trained_at: str
    data_fingerprint: str
    loaded_at: datetime
    base_rate: float | None
    inference: str = Field(
        description="'compiled' (the trees as machine code, checked equal to LightGBM at load) "
        "or 'lightgbm'."
    )
    explanation: str = Field(
        description="How the reasons' SHAP values are computed: 'compiled' (serving/tree_shap.c, "
        "checked against LightGBM's TreeSHAP at load) or 'lightgbm'."
    )
    test_metrics: dict[str, float | None] = Field(description="The model's test metrics.")
    baseline_test_metrics: dict[str, float | None] = Field(
        description="The hand-set rules' metrics on the same test rows."
    )


class MissingOut(BaseModel):
    """A transition the server has no model for: leads that need it are answered 503."""

    transition: str
    name: str = Field(description="Its registered model, e.g. leadscore-sql-to-won.")
    reason: str = Field(description="Why, e.g. 'no champion registered: train first'.")
    detail: str = Field(description="What loading it said, with the fix.")


class WorkerOut(BaseModel):
    """What one worker process of the server serves."""

    pid: int
    generation: int = Field(description="The reload generation it serves.")
    versions: dict[str, str | None] = Field(
        description="Registry version per transition served (null when served from a folder)."
    )
    missing: list[str] = Field(
        default_factory=list, description="The transitions it has no model for."
    )
    loaded_at: datetime = Field(description="When it loaded them.")
    answering: bool = Field(description="Whether this worker gave this answer.")


class ModelsOut(BaseModel):
    loaded_at: datetime
    generation: int = Field(
        description="Reload generation of these models: 1 for those the server started with, "
        "one more per successful reload (by any worker)."
    )
    models: list[ModelOut] = Field(description="The transitions served, one model each.")
    missing: list[MissingOut] = Field(
        default_factory=list,
        description="The transitions not served (no champion registered): leads that need one "
        "are answered 503 until it is trained and the models reloaded.",
    )
    rules_threshold: float
    rules: list[str]
    workers: list[WorkerOut] = Field(
        description="Every live worker of the server and what it serves; a worker switches to "
        "a new generation before its next answer, an idle one within a second."
    )


class ErrorOut(BaseModel):
    """Every non-422 error: a kind and a message (never internals)."""

    error: str
    detail: str


class HealthOut(BaseModel):
    status: str
