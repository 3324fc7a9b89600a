"""Typed dependencies of the routes: the served models, what scoring needs, the API key checks
(the ``X-API-Key`` header; for the ``/weights`` page also HTTP Basic, which a browser can send).

They are ``async def`` although they never wait: FastAPI runs a plain ``def`` dependency in its
thread pool, a thread hop per dependency per request, for a read of ``app.state``."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPBasic, HTTPBasicCredentials
from pydantic import SecretStr

from core.settings import Settings
from serving.decode.json_reader import JsonBatchReader
from serving.decode.text_columns import TextColumns
from serving.encode.json_writer import JsonAnswerWriter
from serving.runtime.metrics import ServiceMetrics
from serving.scoring.batching import ScoringQueue
from serving.scoring.served import Models
from serving.scoring.slot import ModelSlot

log = logging.getLogger(__name__)
API_KEY_HEADER = "X-API-Key"
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="The key set in LEADSCORE_API_KEY (only when authentication is on).",
)
REALM = "leadscore"
page_basic = HTTPBasic(
    auto_error=False,
    realm=REALM,
    description="For the /weights page in a browser: any user name, LEADSCORE_API_KEY as the "
    "password (the browser asks for it).",
)


async def get_slot(request: Request) -> ModelSlot:
    return request.app.state.models


async def get_models(request: Request) -> Models:
    """The models this request scores with, after following a reload another worker published
    (``ModelSlot.for_request``); 503 when there are none."""
    return await request.app.state.models.for_request()


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


def _is_key(sent: str | None, expected: SecretStr) -> bool:
    """Whether ``sent`` is the configured key, compared in constant time."""
    return sent is not None and secrets.compare_digest(
        sent.encode("utf-8", "surrogateescape"), expected.get_secret_value().encode("utf-8")
    )


def _rejected(request: Request, sent_any: bool) -> None:
    """Logs a refusal: the route and whether a key came, never a key (expected or sent)."""
    log.warning(
        "rejected %s %s: %s API key",
        request.method,
        request.url.path,
        "wrong" if sent_any else "missing",
    )


async def require_api_key(request: Request, key: str | None = Security(api_key_header)) -> None:
    """401 unless the request carries the configured key (compared in constant time). The key
    is never logged, neither the expected one nor what was sent."""
    expected = request.app.state.settings.api_key
    if expected is None or _is_key(key, expected):
        return
    _rejected(request, key is not None)
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail=f"missing or wrong API key: send it in the {API_KEY_HEADER} header",
        headers={"WWW-Authenticate": "ApiKey"},
    )


async def require_page_key(
    request: Request,
    key: Annotated[str | None, Security(api_key_header)],
    credentials: Annotated[HTTPBasicCredentials | None, Security(page_basic)],
) -> None:
    """``require_api_key`` for a page a person opens in a browser, which cannot add an
    ``X-API-Key`` header: the key may also come by HTTP Basic as the password (any user name).
    A 401 challenges with ``Basic``, so the browser asks for it; the key never goes in a URL."""
    expected = request.app.state.settings.api_key
    password = credentials.password if credentials is not None else None
    if expected is None or _is_key(key, expected) or _is_key(password, expected):
        return
    _rejected(request, key is not None or credentials is not None)
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="missing or wrong API key: give it as the password (any user name) when the "
        f"browser asks, or send it in the {API_KEY_HEADER} header",
        headers={"WWW-Authenticate": f'Basic realm="{REALM}"'},
    )
