"""Thin endpoints: schema in -> scorer -> schema out.

Scores are written as JSON directly (the dicts already have the documented shape, which the
schema tests check), so a 1,000-lead batch does not pay for a second validation on the way out.
"""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from leadscore.errors import ModelNotFoundError
from leadscore.settings import Settings
from serving.batching import Job, ScoringQueue
from serving.deps import get_metrics, get_models, get_queue, get_settings, get_slot
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
)
from serving.scorer import score_requests

NOT_READY = {503: {"model": ErrorOut, "description": "No models loaded (train first)."}}
UNREADABLE = {400: {"model": ErrorOut, "description": "The body is not readable JSON text."}}
public = APIRouter()
v1 = APIRouter(prefix="/v1", responses={**NOT_READY, **UNREADABLE})


def _json(content: Any) -> Response:
    return Response(json.dumps(content, allow_nan=False), media_type="application/json")


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
    settings: Annotated[Settings, Depends(get_settings)],
    queue: Annotated[ScoringQueue, Depends(get_queue)],
    metrics: Annotated[ServiceMetrics, Depends(get_metrics)],
    _models: Annotated[Models, Depends(get_models)],
    reasons: Annotated[bool, Query(description="Explain each probability.")] = True,
) -> Response:
    _check_touches(request, settings.max_touches_per_lead, ("body",))
    if request.as_of is None:
        request.as_of = datetime.now(UTC)
    result = await queue.submit(Job(request, reasons))
    metrics.observe_results("score", [result])
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


@v1.post(
    "/score/batch",
    response_model=BatchOut,
    summary="Score many leads",
    description="Up to LEADSCORE_MAX_BATCH_LEADS leads (default 1,000), each a ScoreRequest. "
    "Each lead gets the same result as from /v1/score; an invalid lead gets its errors in its "
    "slot and the others are scored. Reasons cost time: off unless asked (or "
    "LEADSCORE_BATCH_REASONS).",
)
async def score_batch(
    body: BatchRequest,
    settings: Annotated[Settings, Depends(get_settings)],
    metrics: Annotated[ServiceMetrics, Depends(get_metrics)],
    models: Annotated[Models, Depends(get_models)],
    reasons: Annotated[
        bool | None, Query(description="Explain each probability [LEADSCORE_BATCH_REASONS].")
    ] = None,
) -> Response:
    if len(body.leads) > settings.max_batch_leads:
        raise RequestValidationError(
            [
                {
                    "type": "too_long",
                    "loc": ("body", "leads"),
                    "msg": f"at most {settings.max_batch_leads:,} leads per batch "
                    f"(LEADSCORE_MAX_BATCH_LEADS), got {len(body.leads):,}",
                    "input": None,
                }
            ]
        )
    now = datetime.now(UTC)
    valid: list[tuple[int, ScoreRequest]] = []
    items: list[dict] = []
    for index, raw in enumerate(body.leads):
        try:
            request = ScoreRequest.model_validate(raw)
            _check_touches(request, settings.max_touches_per_lead, ())
        except ValidationError as error:
            problems = _problems(error)
        except RequestValidationError as error:
            problems = [{k: v for k, v in e.items() if k != "input"} for e in error.errors()]
        else:
            valid.append((index, request))
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
            models,
            [request for _, request in valid],
            now=now,
            reasons=[explain] * len(valid),
            top=settings.reasons_per_direction,
        )
    for (index, _), result in zip(valid, results, strict=True):
        items[index]["result"] = result
    metrics.observe_results("score_batch", results, invalid=len(items) - len(valid))
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
