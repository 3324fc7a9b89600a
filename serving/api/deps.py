"""Typed dependencies of the routes: the served models, what scoring needs, the API key check.

They are ``async def`` although they never wait: FastAPI runs a plain ``def`` dependency in its
thread pool, a thread hop per dependency per request, for a read of ``app.state``."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass

from fastapi import HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from core.errors import ModelNotFoundError
from core.settings import Settings
from serving.decode.json_reader import JsonBatchReader
from serving.decode.text_columns import TextColumns
from serving.encode.json_writer import JsonAnswerWriter
from serving.runtime.metrics import ServiceMetrics
from serving.scoring.batching import ScoringQueue
from serving.scoring.loading import ModelSlot
from serving.scoring.served import Models

log = logging.getLogger(__name__)
API_KEY_HEADER = "X-API-Key"
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="The key set in LEADSCORE_API_KEY (only when authentication is on).",
)


async def get_slot(request: Request) -> ModelSlot:
    return request.app.state.models


async def get_models(request: Request) -> Models:
    models = request.app.state.models.current
    if models is None:
        raise ModelNotFoundError("the models are not loaded yet")
    return models


async def get_metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


@dataclass(frozen=True)
class Scoring:
    """What the scoring endpoints read from the app, as one dependency: FastAPI's own work for
    each dependency of each request (tens of µs) costs far more than the reads themselves."""

    settings: Settings
    models: Models
    metrics: ServiceMetrics
    queue: ScoringQueue
    batch_turn: asyncio.Lock
    json_reader: JsonBatchReader | None
    json_writer: JsonAnswerWriter | None
    text_columns: TextColumns | None


async def get_scoring(request: Request) -> Scoring:
    state = request.app.state
    return Scoring(
        state.settings,
        await get_models(request),
        state.metrics,
        state.queue,
        state.batch_turn,
        state.json_reader,
        state.json_writer,
        state.text_columns,
    )


async def require_api_key(request: Request, key: str | None = Security(api_key_header)) -> None:
    """401 unless the request carries the configured key (compared in constant time). The key
    is never logged, neither the expected one nor what was sent."""
    expected = request.app.state.settings.api_key
    if expected is None:
        return
    if key is None or not secrets.compare_digest(
        key.encode("utf-8", "surrogateescape"), expected.get_secret_value().encode("utf-8")
    ):
        log.warning(
            "rejected %s %s: %s API key",
            request.method,
            request.url.path,
            "missing" if key is None else "wrong",
        )
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"missing or wrong API key: send it in the {API_KEY_HEADER} header",
            headers={"WWW-Authenticate": "ApiKey"},
        )
