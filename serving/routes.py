"""Thin endpoints: schema in -> scorer -> schema out.

Scores are written as JSON directly with orjson (the dicts already have the documented shape,
which the schema tests check), so a 1,000-lead batch does not pay for a second validation on
the way out. The batch endpoint reads its body itself: a batch of valid leads is validated in
one pass over the bytes, and only a batch with a problem is parsed and checked lead by lead.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from leadscore.errors import ModelNotFoundError
from serving.batching import Job
from serving.deps import Scoring, get_metrics, get_models, get_scoring, get_slot
from serving.loading import Models, ModelSlot
from serving.metrics import CONTENT_TYPE, ServiceMetrics
from serving.schemas import (
    BatchOut,
    BatchRequest,
    ErrorOut,
    HealthOut,
    ModelOut,
    ModelsOut,
    ScoreOut,
    ScoreRequest,
    ValidBatch,
)
from serving.scorer import score_requests

NOT_READY = {503: {"model": ErrorOut, "description": "No models loaded (train first)."}}
UNREADABLE = {400: {"model": ErrorOut, "description": "The body is not readable JSON text."}}
public = APIRouter()
v1 = APIRouter(prefix="/v1", responses={**NOT_READY, **UNREADABLE})


def _json(content: Any) -> Response:
    """orjson: some 15x faster than ``json.dumps`` on a 1,000-lead batch; numpy scalars pass, as
    numpy floats did with ``json.dumps``. It writes a NaN as null instead of failing: the
    scorer's numbers are finite or None, which the tests check."""
    return Response(
        orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )


def _check_touches(request: ScoreRequest, cap: int, loc: tuple) -> None:
    if len(request.touches) > cap:
        raise RequestValidationError(
            [
                {
                    "type": "too_long",
                    "loc": (*loc, "touches"),
                    "msg": f"at most {cap:,} touches per lead (LEADSCORE_MAX_TOUCHES_PER_LEAD), "
                    f"got {len(request.touches):,}",
                    "input": None,
                }
            ]
        )


@v1.post(
    "/score",
    response_model=ScoreOut,
    summary="Score one lead",
    description="Calibrated probabilities of MQL -> SQL and SQL -> won, the hand-set score "
    "with its points per rule, a priority tier and the reasons. Only events strictly before "
    "`as_of` (default: now) count.",
)
async def score(
    request: ScoreRequest,
    scoring: Annotated[Scoring, Depends(get_scoring)],
    reasons: Annotated[bool, Query(description="Explain each probability.")] = True,
) -> Response:
    _check_touches(request, scoring.settings.max_touches_per_lead, ("body",))
    if request.as_of is None:
        request.as_of = datetime.now(UTC)
    result = await scoring.queue.submit(Job(request, reasons))
    scoring.metrics.observe_results("score", [result])
    return _json(result)


def _lead_id(raw: Any) -> int | str | None:
    lead = raw.get("lead") if isinstance(raw, dict) else None
    lead_id = lead.get("lead_id") if isinstance(lead, dict) else None
    if isinstance(lead_id, int) and not isinstance(lead_id, bool) and abs(lead_id) < 2**63:
        return lead_id
    if isinstance(lead_id, str) and len(lead_id) <= 128:
        try:
            lead_id.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return lead_id
    return None


def _problems(error: ValidationError) -> list[dict]:
    return [
        {"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]}
        for e in error.errors(include_url=False, include_context=False, include_input=False)
    ]


def _is_json(content_type: str | None) -> bool:
    """FastAPI's rule for parsing a body as JSON: application/json or application/*+json."""
    main, _, sub = (content_type or "").partition(";")[0].strip().lower().partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _valid_leads(body: bytes, content_type: str | None) -> list[ScoreRequest] | None:
    """All leads of a batch with no problem at all, or None (then ``_batch`` says what)."""
    if not _is_json(content_type):
        return None
    try:
        return ValidBatch.model_validate_json(body).leads
    except ValidationError:
        return None


def _batch(body: bytes, content_type: str | None) -> BatchRequest:
    """The body as FastAPI would hand a declared ``BatchRequest`` parameter to the endpoint, with
    its errors: 422 for no body, a body that is not JSON or not a batch; 400 for bytes that are
    not text (or nest too deep to parse)."""
    if not body:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    data: Any = body  # not declared as JSON: fails validation below, as in FastAPI
    if _is_json(content_type):
        try:
            data = json.loads(body)
        except json.JSONDecodeError as error:
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body", error.pos),
                        "msg": "JSON decode error",
                        "input": {},
                    }
                ]
            ) from error
        except (ValueError, RecursionError) as error:
            raise HTTPException(400, "There was an error parsing the body") from error
    try:
        return BatchRequest.model_validate(data, from_attributes=True)  # as FastAPI does
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from error


@v1.post(
    "/score/batch",
    response_model=BatchOut,
    summary="Score many leads",
    description="Up to LEADSCORE_MAX_BATCH_LEADS leads (default 1,000), each a ScoreRequest. "
    "Each lead gets the same result as from /v1/score; an invalid lead gets its errors in its "
    "slot and the others are scored. Reasons cost time: off unless asked (or "
    "LEADSCORE_BATCH_REASONS).",
    # the endpoint reads the body itself (see _valid_leads), so the spec is given here
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BatchRequest.model_json_schema()}},
        }
    },
)
async def score_batch(
    request: Request,
    scoring: Annotated[Scoring, Depends(get_scoring)],
    reasons: Annotated[
        bool | None, Query(description="Explain each probability [LEADSCORE_BATCH_REASONS].")
    ] = None,
) -> Response:
    settings = scoring.settings
    body = await request.body()
    content_type = request.headers.get("content-type")
    leads: Sequence[ScoreRequest | dict[str, Any]] | None = _valid_leads(body, content_type)
    if leads is None:
        leads = _batch(body, content_type).leads
    if len(leads) > settings.max_batch_leads:
        raise RequestValidationError(
            [
                {
                    "type": "too_long",
                    "loc": ("body", "leads"),
                    "msg": f"at most {settings.max_batch_leads:,} leads per batch "
                    f"(LEADSCORE_MAX_BATCH_LEADS), got {len(leads):,}",
                    "input": None,
                }
            ]
        )
    now = datetime.now(UTC)
    valid: list[tuple[int, ScoreRequest]] = []
    items: list[dict] = []
    for index, raw in enumerate(leads):
        try:
            lead = raw if isinstance(raw, ScoreRequest) else ScoreRequest.model_validate(raw)
            _check_touches(lead, settings.max_touches_per_lead, ())
        except ValidationError as error:
            problems = _problems(error)
        except RequestValidationError as error:
            problems = [{k: v for k, v in e.items() if k != "input"} for e in error.errors()]
        else:
            valid.append((index, lead))
            items.append({"index": index, "result": None, "error": None})
            continue
        for problem in problems:
            problem["loc"] = ["body", "leads", index, *problem["loc"]]
        items.append(
            {
                "index": index,
                "result": None,
                "error": {"index": index, "lead_id": _lead_id(raw), "errors": problems},
            }
        )
    explain = settings.batch_reasons if reasons is None else reasons
    results = []
    if valid:
        results = await asyncio.to_thread(
            score_requests,
            scoring.models,
            [lead for _, lead in valid],
            now=now,
            reasons=[explain] * len(valid),
            top=settings.reasons_per_direction,
        )
    for (index, _), result in zip(valid, results, strict=True):
        items[index]["result"] = result
    scoring.metrics.observe_results("score_batch", results, invalid=len(items) - len(valid))
    return _json({"scored": len(valid), "invalid": len(items) - len(valid), "results": items})


def _finite(metrics: dict) -> dict[str, float | None]:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = float(value) if math.isfinite(value) else None
    return out


def models_out(models: Models) -> ModelsOut:
    return ModelsOut(
        loaded_at=models.loaded_at,
        models=[
            ModelOut(
                transition=m.transition,
                name=m.name,
                version=m.version,
                alias=m.alias,
                source=m.source,
                trained_at=m.bundle.trained_at,
                data_fingerprint=m.bundle.data_fingerprint,
                loaded_at=m.loaded_at,
                base_rate=m.base_rate,
                test_metrics=_finite(m.bundle.metrics.get("model", {})),
                baseline_test_metrics=_finite(m.bundle.metrics.get("baseline", {})),
            )
            for m in models.by_transition.values()
        ],
        rules_threshold=models.rules.threshold,
        rules=[rule.name for rule in models.rules.rules],
    )


@v1.get("/models", response_model=ModelsOut, summary="The models being served")
async def list_models(models: Annotated[Models, Depends(get_models)]) -> ModelsOut:
    return models_out(models)


@v1.post(
    "/models/reload",
    response_model=ModelsOut,
    summary="Reload the champions",
    description="Loads the models again (registry alias or folder) beside the current ones and "
    "swaps them in; requests in flight finish on the old ones. If loading fails the old models "
    "keep serving and the error (503) says which.",
)
async def reload_models(
    slot: Annotated[ModelSlot, Depends(get_slot)],
    metrics: Annotated[ServiceMetrics, Depends(get_metrics)],
) -> ModelsOut:
    try:
        models = await slot.reload()
    except ModelNotFoundError:
        metrics.reloads.labels("failed").inc()
        raise
    metrics.reloads.labels("ok").inc()
    metrics.show_models((m.transition, m.version, m.alias) for m in models.by_transition.values())
    return models_out(models)


@public.get("/healthz", response_model=HealthOut, summary="Alive")
async def healthz() -> HealthOut:
    return HealthOut(status="alive")


@public.get("/readyz", response_model=HealthOut, responses=NOT_READY, summary="Models loaded")
async def readyz(_models: Annotated[Models, Depends(get_models)]) -> HealthOut:
    return HealthOut(status="ready")


@public.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def prometheus(metrics: Annotated[ServiceMetrics, Depends(get_metrics)]) -> Response:
    return Response(metrics.exposition(), media_type=CONTENT_TYPE)
