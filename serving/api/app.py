"""The scoring API: ``create_app(settings)``, the lifespan that loads the models, the error
handlers, and ``run_server`` behind ``leadscore serve``.

Errors: the leadscore error family maps to its ``http_status`` in one handler; validation
problems are 422 with the field's location; anything unexpected is a JSON 500 without
internals (the traceback goes to the server log only).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import LeadscoreError
from core.settings import Settings, get_settings, score_store_of, trees_cache_of
from serving.api import routes
from serving.api.body_limit import BodyLimit
from serving.api.deps import require_api_key
from serving.api.weights_page import weights_router
from serving.decode.json_reader import json_batch_reader
from serving.encode.rows import rows_of
from serving.runtime.metrics import MetricsMiddleware, ServiceMetrics
from serving.runtime.recorder import ScoreRecorder
from serving.runtime.shared_folder import shared_folder
from serving.runtime.workers import serve_workers
from serving.schemas.responses import ErrorOut
from serving.scoring.batching import Job, ScoringQueue
from serving.scoring.loading import load_for, load_generation
from serving.scoring.scorer import refusals, score_requests
from serving.scoring.served import Models
from serving.scoring.slot import ModelSlot

log = logging.getLogger(__name__)
DESCRIPTION = """Lead-conversion scores for CRMs: send a lead's history (attributes, touches,
stage changes), get the calibrated probabilities of MQL -> SQL and SQL -> won, the hand-set
rule score with its points per rule, a priority tier and the reasons in words.
See docs/api.md for curl examples, stage semantics and tiers."""


def _weights_file_reader(path: Path) -> Callable[[], dict | None]:
    """The latest ``leadscore weights`` comparison, re-read only when the file changes, so a
    report written after start-up shows without a restart."""
    cached: dict[str, Any] = {}

    def read() -> dict | None:
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return None
        if cached.get("stamp") != stamp:
            cached.update(stamp=stamp, data=json.loads(path.read_text(encoding="utf-8")))
        return cached["data"]

    return read


def _error_kind(error: Exception) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower().removesuffix("_error")


def _json_safe(value: Any) -> Any:
    """A scalar input echoed in a 422, or None: never a NaN or a huge or broken string."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str) and len(value) <= 100:
        return value
    return None


async def _invalid_request(request: Request, error: RequestValidationError) -> Response:
    detail = [
        {
            "type": e.get("type", "value_error"),
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "invalid value")),
            "input": _json_safe(e.get("input")),
        }
        for e in error.errors()
    ]
    # ensure_ascii: a lone surrogate sent by a client is echoed escaped, never a 500
    body = json.dumps({"detail": detail}, ensure_ascii=True, allow_nan=False)
    return Response(body, status_code=422, media_type="application/json")


async def _leadscore_error(request: Request, error: LeadscoreError) -> JSONResponse:
    body = ErrorOut(error=_error_kind(error), detail=str(error))
    return JSONResponse(body.model_dump(), status_code=error.http_status)


# the body limit's, as serving.api.body_limit names it, and the media type check's
_HTTP_ERROR_KINDS = {413: "content_too_large", 415: "unsupported_media_type"}


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    body = ErrorOut(
        error=_HTTP_ERROR_KINDS.get(error.status_code, "http"), detail=str(error.detail)
    )
    return JSONResponse(body.model_dump(), status_code=error.status_code, headers=error.headers)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    body = ErrorOut(error="internal", detail="internal error; the server log has the details")
    return JSONResponse(body.model_dump(), status_code=500)


def create_app(settings: Settings) -> FastAPI:
    """The API for ``settings``; models load in the lifespan (``ModelNotFoundError`` if none)."""
    metrics = ServiceMetrics()
    store = score_store_of(settings)
    metrics.watch_monitor(store)
    recorder = ScoreRecorder(store, metrics.score_records) if settings.record_scores else None
    if recorder is not None:  # every scoring pass, single leads and batches, is recorded
        metrics.listeners.append(recorder.record)

    def observe_follow(result: str, models: Models | None) -> None:
        metrics.reloads.labels(result).inc()
        if models is not None:
            metrics.show_models(
                (m.transition, m.version, m.alias) for m in models.by_transition.values()
            )

    slot = ModelSlot(
        partial(load_for, settings),
        partial(load_generation, trees_cache=trees_cache_of(settings)),
        settings.runtime_dir,
        observe_follow,
    )

    def run_pass(jobs: Sequence[Job]) -> list[dict | Exception]:
        models = slot.current  # one snapshot per pass; a reload swaps it for the next pass
        metrics.pass_leads.observe(len(jobs))
        now = datetime.now(UTC)
        requests = [job.request for job in jobs]
        # leads needing a transition without a model get its 503, the others are scored
        refused = refusals(models, requests, now=now) if models.missing else {}
        kept = [k for k in range(len(jobs)) if k not in refused] if refused else range(len(jobs))
        if not kept:
            return [refused[k] for k in range(len(jobs))]
        scored = score_requests(
            models,
            [requests[k] for k in kept] if refused else requests,
            now=now,
            reasons=[jobs[k].reasons for k in kept],
            top=settings.reasons_per_direction,
        )
        metrics.observe_scored("score", scored)
        rows: list[dict | Exception] = rows_of(scored)
        if refused:
            answers = dict(zip(kept, rows, strict=True))
            rows = [refused.get(k) or answers[k] for k in range(len(jobs))]
        return rows

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        models = slot.start()  # raises ModelNotFoundError: the server does not start
        cache = trees_cache_of(settings)
        app.state.json_reader = json_batch_reader(cache)
        metrics.show_models(
            (m.transition, m.version, m.alias) for m in models.by_transition.values()
        )
        if recorder is not None:
            recorder.start()
        log.info(
            "serving generation %d: %s; JSON batches read by %s",
            slot.generation,
            ", ".join(
                f"{m.name} {m.version or m.source} ({m.inference} trees, {m.explanation} SHAP)"
                for m in models.by_transition.values()
            ),
            "pyarrow" if app.state.json_reader is None else "compiled C",
        )
        for unserved in models.missing.values():
            log.warning(
                "not serving %s (%s): %s; leads that need it are answered 503",
                unserved.transition,
                unserved.name,
                unserved.reason,
            )
        following = asyncio.create_task(slot.keep_following()) if slot.shared else None
        try:
            yield
        finally:
            if following is not None:
                following.cancel()
            slot.stop()
            if recorder is not None:
                recorder.close()  # what is pending is written before the process ends

    app = FastAPI(
        title="leadscore",
        version=version("leadscore"),
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={500: {"model": ErrorOut, "description": "Unexpected error (no internals)."}},
    )
    app.state.settings = settings
    app.state.models = slot
    app.state.metrics = metrics
    app.state.queue = ScoringQueue(run_pass, max_leads=settings.max_batch_leads)
    # batches are scored one at a time per worker: several at once only contend for the GIL
    # and the caches, and each would take as long as all of them
    app.state.batch_turn = asyncio.Lock()
    # the compiled JSON reader is set at start-up (a build takes a moment)
    app.state.json_reader = None
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts the 413s too
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(LeadscoreError, _leadscore_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.include_router(routes.public)
    locked = settings.api_key is not None
    if locked:
        app.include_router(
            routes.v1,
            dependencies=[Security(require_api_key)],
            responses={401: {"model": ErrorOut, "description": "Missing or wrong X-API-Key."}},
        )
    else:
        app.include_router(routes.v1)
    weights_file = settings.data_dir / "weights" / "weights.json"
    app.include_router(weights_router(_weights_file_reader(weights_file), locked=locked))
    return app


def app_from_environment() -> FastAPI:
    """uvicorn's factory: each worker process builds the app from the environment."""
    return create_app(get_settings())


def uvicorn_options(*, host: str, port: int, access_log: bool = True) -> dict[str, Any]:
    """``uvicorn.Config``'s keywords for the API: each worker builds the app from the environment
    (``app_from_environment``); uvloop and httptools (``uvicorn[standard]``) instead of asyncio's
    loop and h11: less time per request in the event loop, which the scoring thread shares."""
    return {
        "app": "serving.api.app:app_from_environment",
        "factory": True,
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": access_log,
        "log_level": "info",
    }


def run_server(*, host: str, port: int, workers: int = 1, access_log: bool = True) -> None:
    """Serve the API with uvicorn until stopped.

    Checks first that the models load (``ModelNotFoundError`` before uvicorn starts, so the CLI
    exits 1 with "train first"). With several workers (``serving.runtime.workers``: the supervisor
    listens and deals connections out to them) each process loads its own copy, a reload reaches
    all of them through the folder they share (``serving.runtime.shared_folder``), and
    ``/metrics`` adds up all of them (``uvicorn_options`` has the server's settings).
    """
    settings = get_settings()
    # checked here, once: every worker, whichever supervisor starts it, loads the shared
    # folder's latest generation (these models until a reload) rather than the registry
    with shared_folder(load_for(settings)):
        get_settings.cache_clear()  # one worker builds its app in this process, from os.environ
        try:
            _run_uvicorn(host=host, port=port, workers=workers, access_log=access_log)
        finally:
            get_settings.cache_clear()


def _run_uvicorn(*, host: str, port: int, workers: int, access_log: bool) -> None:
    options = uvicorn_options(host=host, port=port, access_log=access_log)
    if workers == 1:
        uvicorn.run(**options)
        return
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="leadscore-metrics-")
    serve_workers(host=host, port=port, workers=workers, options=options)
