"""Typed dependencies of the routes: settings, the served models, the API key check."""

from __future__ import annotations

import logging
import secrets

from fastapi import HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from leadscore.errors import ModelNotFoundError
from leadscore.settings import Settings
from serving.batching import ScoringQueue
from serving.loading import Models, ModelSlot
from serving.metrics import ServiceMetrics

log = logging.getLogger(__name__)
API_KEY_HEADER = "X-API-Key"
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="The key set in LEADSCORE_API_KEY (only when authentication is on).",
)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_slot(request: Request) -> ModelSlot:
    return request.app.state.models


def get_models(request: Request) -> Models:
    models = request.app.state.models.current
    if models is None:
        raise ModelNotFoundError("the models are not loaded yet")
    return models


def get_queue(request: Request) -> ScoringQueue:
    return request.app.state.queue


def get_metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


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
