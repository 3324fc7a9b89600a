"""Thin endpoints: schema in -> scorer -> schema out.

Scores are written as JSON directly with orjson (the dicts already have the documented shape,
which the schema tests check), so a 1,000-lead batch does not pay for a second validation on
the way out. The batch endpoint reads its body itself (``serving.decode.body``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from core.errors import ModelNotFoundError, ReloadError
from core.settings import Settings
from serving.api.deps import Scoring, get_metrics, get_models, get_scoring, get_slot
from serving.decode.arrow_reader import ARROW_STREAM, accepts_arrow, is_arrow, read_arrow_batch
from serving.decode.body import (
    JSON,
    batch_of,
    check_touches,
    checked_leads,
    is_json,
    read_batch,
    unsupported_media_type,
)
from serving.decode.checks import ColumnBatch
from serving.decode.columns import read_valid_batch
from serving.encode.arrow_writer import arrow_answer
from serving.encode.rows import rows_of
from serving.runtime.metrics import CONTENT_TYPE, ServiceMetrics
from serving.schemas.requests import BatchRequest, ScoreRequest
from serving.schemas.responses import (
    BatchOut,
    ErrorOut,
    HealthOut,
    MissingOut,
    ModelOut,
    ModelsOut,
    ScoreOut,
    WorkerOut,
)
from serving.scoring.batching import Job
from serving.scoring.scorer import ScoredLeads, score_requests, score_visible
from serving.scoring.served import Models
from serving.scoring.slot import ModelSlot

NOT_READY = {503: {"model": ErrorOut, "description": "No models loaded (train first)."}}
NOT_SERVED = {
    503: {
        "model": ErrorOut,
        "description": "No models loaded (train first), or a lead needs a transition no "
        "champion serves yet (`error`: `transition_not_served`; the detail names the transition "
        "and how many leads need it; GET /v1/models lists what is served).",
    }
}
UNREADABLE = {
    400: {"model": ErrorOut, "description": "The body is not readable JSON (or Arrow IPC)."}
}
TOO_LARGE = {413: {"model": ErrorOut, "description": "Body over LEADSCORE_MAX_REQUEST_BYTES."}}
BATCH_MEDIA_TYPES = (JSON, ARROW_STREAM)
NOT_JSON = {415: {"model": ErrorOut, "description": f"The body is not sent as {JSON}."}}
NOT_BATCH_MEDIA = {
    415: {
        "model": ErrorOut,
        "description": f"The body is sent as neither {JSON} nor {ARROW_STREAM}.",
    }
}
public = APIRouter()
v1 = APIRouter(prefix="/v1", responses={**NOT_READY, **UNREADABLE, **TOO_LARGE})


async def json_body(request: Request) -> None:
    """415 for a body that is not sent as JSON. FastAPI has read the body by now (and left
    anything but JSON unparsed, to fail validation with a puzzling 422); an empty body is the
    schema's 422."""
    content_type = request.headers.get("content-type")
    if not is_json(content_type) and await request.body():
        raise unsupported_media_type(content_type, (JSON,))


def _json(content: Any) -> Response:
    """orjson: some 15x faster than ``json.dumps`` on a 1,000-lead batch; numpy scalars pass, as
    numpy floats did with ``json.dumps``. It writes a NaN as null instead of failing: the
    scorer's numbers are finite or None, which the tests check."""
    return Response(
        orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )


@v1.post(
    "/score",
    response_model=ScoreOut,
    summary="Score one lead",
    description="Calibrated probabilities of MQL -> SQL and SQL -> won, the hand-set score "
    "with its points per rule, a priority tier and the reasons. Only events strictly before "
    "`as_of` (default: now) count.",
    dependencies=[Depends(json_body)],
    responses={**NOT_JSON, **NOT_SERVED},
)
async def score(
    request: ScoreRequest,
    scoring: Annotated[Scoring, Depends(get_scoring)],
    reasons: Annotated[bool, Query(description="Explain each probability.")] = True,
) -> Response:
    check_touches(request, scoring.settings.max_touches_per_lead, ("body",))
    if request.as_of is None:
        request.as_of = datetime.now(UTC)
    return _json(await scoring.queue.submit(Job(request, reasons)))


@v1.post(
    "/score/batch",
    response_model=BatchOut,
    summary="Score many leads",
    description="Up to LEADSCORE_MAX_BATCH_LEADS leads (default 1,000), each a ScoreRequest. "
    "Each lead gets the same result as from /v1/score; an invalid lead gets its errors in its "
    "slot and the others are scored. Reasons cost time: off unless asked (or "
    "LEADSCORE_BATCH_REASONS). The body is JSON, or an Arrow IPC stream of a table with one row "
    f"per lead and the same columns ({ARROW_STREAM}; docs/api.md). The answer is JSON, or an "
    f"Arrow IPC stream of the same items when `Accept` prefers {ARROW_STREAM}.",
    responses={
        200: {
            "description": "One item per lead, as JSON or (by `Accept`) as an Arrow IPC stream.",
            "content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}},
        },
        **NOT_BATCH_MEDIA,
        **NOT_SERVED,
    },
    # the endpoint reads the body itself (serving.decode.body), so the spec is given here
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": BatchRequest.model_json_schema()},
                ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}},
            },
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
    now = datetime.now(UTC)
    body = await request.body()
    content_type = request.headers.get("content-type")
    explain = settings.batch_reasons if reasons is None else reasons
    limits = {
        "max_leads": settings.max_batch_leads,
        "max_touches": settings.max_touches_per_lead,
    }
    arrow = is_arrow(content_type)
    if body and not (arrow or is_json(content_type)):
        raise unsupported_media_type(content_type, BATCH_MEDIA_TYPES)
    answer = partial(_batch_answer, scoring, as_arrow=accepts_arrow(request.headers.get("accept")))
    if arrow or is_json(content_type):  # a batch with nothing wrong: read column-wise
        if arrow:
            read = partial(read_arrow_batch, body, **limits, now=now)
        else:
            read = partial(
                read_valid_batch,
                body,
                **limits,
                now=now,
                reader=scoring.json_reader,
            )
        async with scoring.batch_turn:  # one batch at a time (app.py says why)
            response, records = await asyncio.to_thread(
                _read_and_score,
                read,
                scoring.models,
                settings,
                explain,
                answer,
            )
        if response is not None:
            return response
    if arrow:  # the table's rows, as records, lead by lead through the schema
        read_leads = partial(_checked_records, records, limits)
    else:
        read_leads = partial(read_batch, body, content_type, **limits)
    async with scoring.batch_turn:  # checking lead by lead is batch work too: off the loop
        return await asyncio.to_thread(
            _by_schema, read_leads, scoring.models, settings, explain, now, answer
        )


def _checked_records(records: list, limits: dict[str, int]) -> tuple[list, list[dict]]:
    return checked_leads(batch_of({"leads": records}).leads, **limits)


Answer = Callable[[ScoredLeads | None, Sequence[int], list[dict] | None], Response]


def _read_and_score(
    read: Callable[[], ColumnBatch | list | None],
    models: Models,
    settings: Settings,
    explain: bool,
    answer: Answer,
) -> tuple[Response | None, list | None]:
    """(the answer, None) for a batch ``read`` column-wise; else (None, what was read: the
    rows of an Arrow table as records, or None), for the schema to check lead by lead. One
    thread hop for reading, scoring and answering."""
    batch = read()
    if not isinstance(batch, ColumnBatch):
        return None, batch
    scored = score_visible(
        models,
        batch.visible,
        batch.lead_ids,
        batch.as_of,
        reasons=[explain] * len(batch.lead_ids),
        top=settings.reasons_per_direction,
    )
    return answer(scored, range(len(scored)), None), None


def _by_schema(
    read_leads: Callable[[], tuple[list[tuple[int, ScoreRequest]], list[dict]]],
    models: Models,
    settings: Settings,
    explain: bool,
    now: datetime,
    answer: Answer,
) -> Response:
    """The answer to a batch checked lead by lead (an invalid lead's item holds its errors);
    the checks raise the request's 422 (or 400) for a body that is not a batch."""
    valid, items = read_leads()
    scored = None
    if valid:
        scored = score_requests(
            models,
            [lead for _, lead in valid],
            now=now,
            reasons=[explain] * len(valid),
            top=settings.reasons_per_direction,
        )
    return answer(scored, [index for index, _ in valid], items)


def _batch_answer(
    scoring: Scoring,
    scored: ScoredLeads | None,
    positions: Sequence[int],
    items: list[dict] | None,
    *,
    as_arrow: bool,
) -> Response:
    """The ``BatchOut`` answer (JSON from ``rows_of``'s dicts, or Arrow:
    ``serving.encode.arrow_writer``) of a batch whose leads at ``positions`` were
    ``scored``; ``items`` (one per lead) holds the others' errors, None when every lead was
    scored."""
    invalid = 0 if items is None else len(items) - len(positions)
    scoring.metrics.observe_scored("score_batch", scored, invalid=invalid)
    if as_arrow:
        rule_names = [rule.name for rule in scoring.models.rules.rules]
        body = arrow_answer(scored, positions, items, rule_names)
        return Response(body, media_type=ARROW_STREAM)
    rows = rows_of(scored) if scored is not None else []
    if items is None:
        items = [{"index": i, "result": row, "error": None} for i, row in enumerate(rows)]
    else:
        for position, row in zip(positions, rows, strict=True):
            items[position]["result"] = row
    return _json({"scored": len(rows), "invalid": invalid, "results": items})


def _finite(metrics: dict) -> dict[str, float | None]:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = float(value) if math.isfinite(value) else None
    return out


def models_out(models: Models, slot: ModelSlot) -> ModelsOut:
    """``models`` (what ``slot`` serves now), its generation and what every worker serves."""
    return ModelsOut(
        loaded_at=models.loaded_at,
        generation=slot.generation,
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
                inference=m.inference,
                explanation=m.explanation,
                test_metrics=_finite(m.bundle.metrics.get("model", {})),
                baseline_test_metrics=_finite(m.bundle.metrics.get("baseline", {})),
            )
            for m in models.by_transition.values()
        ],
        missing=[
            MissingOut(transition=u.transition, name=u.name, reason=u.reason, detail=u.detail)
            for u in models.missing.values()
        ],
        rules_threshold=models.rules.threshold,
        rules=[rule.name for rule in models.rules.rules],
        workers=[WorkerOut.model_validate(entry) for entry in slot.workers()],
    )


@v1.get(
    "/models",
    response_model=ModelsOut,
    summary="The models being served",
    description="The models this worker serves and their reload generation, the transitions it "
    "has no model for (`missing`: no champion registered, train first), and what every worker "
    "of the server serves.",
)
async def list_models(
    models: Annotated[Models, Depends(get_models)],
    slot: Annotated[ModelSlot, Depends(get_slot)],
) -> ModelsOut:
    return models_out(models, slot)


@v1.post(
    "/models/reload",
    response_model=ModelsOut,
    summary="Reload the champions",
    description="Loads the champions again (registry alias or folder) beside the current ones "
    "and swaps them in; requests in flight finish on the old ones. Once this answers, every "
    "worker of the server scores with the new models (each loads them before its next "
    "answer). Transitions without a champion are left out and listed in `missing`, as at "
    "start-up; when none has one, or loading fails, nothing changes anywhere and the error "
    "(503) says which models still serve.",
)
async def reload_models(
    slot: Annotated[ModelSlot, Depends(get_slot)],
    metrics: Annotated[ServiceMetrics, Depends(get_metrics)],
) -> ModelsOut:
    try:
        models = await slot.reload()
    except (ModelNotFoundError, ReloadError):
        metrics.reloads.labels("failed").inc()
        raise
    metrics.reloads.labels("ok").inc()
    metrics.show_models((m.transition, m.version, m.alias) for m in models.by_transition.values())
    return models_out(models, slot)


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
