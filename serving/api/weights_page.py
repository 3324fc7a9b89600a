"""Learned vs hand-set points over HTTP: ``GET /v1/weights`` (JSON) and ``GET /weights`` (page).

The service decides where a comparison comes from (the weights.json of the latest
``leadscore weights`` run, loaded in its lifespan) and hands this router a function returning
it, so the router holds no state but a cache of the last rendered page. No comparison yet is a
404 in both forms (there is no report yet; not a server fault), naming the command that makes one.

Include it with ``app.include_router(weights_router(lambda: app.state.weights, locked=...))``:
when the service has an API key (``locked``), ``/v1/weights`` needs it in the ``X-API-Key``
header and the page takes it that way or by HTTP Basic, as a browser sends it (see
``serving.api.deps``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Security
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from serving.api.deps import require_api_key, require_page_key
from serving.schemas.responses import ErrorOut
from training.weights.compare import WeightsComparison
from training.weights.report.html import render_not_available
from training.weights.report.publish import render_html

NOT_AVAILABLE = (
    "No weights comparison is available yet: run `leadscore weights` (it writes weights.json) "
    "and restart or reload the service."
)


class RuleWeightOut(BaseModel):
    """One hand-set rule next to what the data supports (``training.weights.compare.RuleWeight``).
    Points are per unit of the rule's signal (per firing, per touch for touch rules)."""

    name: str
    kind: str
    description: str
    fires_share: float = Field(description="Share of the older decisions where the rule fires.")
    fires_rows: int
    conversion_when_fires: float | None
    conversion_when_not: float | None
    mean_signal_when_fires: float | None
    hand_set_points: float
    learned_points: float = Field(description="Points the data supports (the exported file's).")
    learned_lower: float | None = Field(description="95 % bootstrap interval, lower end.")
    learned_upper: float | None = Field(description="95 % bootstrap interval, upper end.")
    log_odds_per_signal: float
    model_shap_when_fires: float | None
    model_shap_when_not: float | None
    model_points: float | None = Field(description="The LightGBM model's view, in points.")
    related_features: list[str]
    verdict: str
    flagged: bool = Field(description="The data contradicts the rule's sign or size.")
    explanation: str


class LevelOut(BaseModel):
    value: str
    share: float
    mean_shap: float


class UncoveredSignalOut(BaseModel):
    """A strong model signal that no hand-set rule covers."""

    feature: str
    description: str
    mean_abs_shap: float
    points: float
    uncovered_share: float
    direction: str
    levels: list[LevelOut]


class CapacityRowOut(BaseModel):
    """One score on the test period: at its threshold, and among the top leads at capacity."""

    method: str
    threshold: float
    threshold_unit: str
    passed: int
    passed_per_month: float
    conversions: int
    conversion_rate: float | None
    recall: float | None
    roc_auc: float | None
    conversions_at_capacity: float
    extra_conversions: float = Field(description="Conversions at capacity minus hand-set's.")


class PeriodsOut(BaseModel):
    fit_from: str
    test_from: str
    test_to: str
    fit_rows: int
    test_rows: int
    fit_conversion_rate: float
    test_conversions: int
    fit_months: float
    test_months: float
    leads_at_capacity_in_test: int


class CurveOut(BaseModel):
    leads_per_month: list[float]
    conversions: list[float]


class SettingsOut(BaseModel):
    seed: int
    bootstrap: int
    l2_penalty: float
    min_fires: int
    shap_rows: int
    model: str
    horizon_days: int


class WeightsOut(BaseModel):
    """``training.weights.compare.WeightsComparison.to_dict()``: hand-set vs learned points, the
    signals no rule covers, and the capacity trade-off on the newest decisions."""

    transition: str
    threshold: float
    threshold_key: str = Field(
        "threshold",
        description="The rules file's key that threshold comes from: sql_to_won_threshold for "
        "sql_to_won when the file has one, else threshold (the hand-over to sales).",
    )
    learned_threshold: float
    scale: float = Field(description="Learned points per unit of log-odds.")
    scale_method: str
    capacity_per_month: float
    capacity_is_default: bool
    periods: PeriodsOut
    rules: list[RuleWeightOut]
    uncovered: list[UncoveredSignalOut]
    capacity: list[CapacityRowOut]
    curves: dict[str, CurveOut]
    settings: SettingsOut
    learned_rules_yaml: str = Field(description="The learned rules file, ready to adopt.")


class WeightsUnavailableOut(BaseModel):
    """No comparison yet (same shape as the service's other errors)."""

    error: str
    detail: str


_UNAVAILABLE_PAGE = render_not_available(NOT_AVAILABLE)


def weights_router(
    get_comparison: Callable[[], Mapping[str, Any] | WeightsComparison | None],
    *,
    locked: bool = False,
) -> APIRouter:
    """``GET /v1/weights`` and ``GET /weights`` over whatever ``get_comparison`` returns now
    (a ``to_dict()`` mapping, a ``WeightsComparison``, or None when there is none yet).
    ``locked``: the service has an API key, which both routes then ask for."""
    router = APIRouter(tags=["weights"])
    json_auth, page_auth = [], []
    json_401, page_401 = {}, {}
    if locked:
        json_auth, page_auth = [Security(require_api_key)], [Security(require_page_key)]
        json_401 = {401: {"model": ErrorOut, "description": "Missing or wrong X-API-Key."}}
        page_401 = {
            401: {
                "model": ErrorOut,
                "description": "Missing or wrong key: give it as the password of HTTP Basic "
                "(any user name; the browser asks) or in X-API-Key.",
            }
        }
    rendered: dict[str, str] = {}  # fingerprint of the comparison -> page; only the last one
    lock = threading.Lock()

    def current() -> Mapping[str, Any] | None:
        found = get_comparison()
        return found.to_dict() if isinstance(found, WeightsComparison) else found

    @router.get(
        "/v1/weights",
        response_model=WeightsOut,
        summary="Hand-set vs learned points per rule",
        responses={404: {"model": WeightsUnavailableOut, "description": NOT_AVAILABLE}, **json_401},
        dependencies=json_auth,
    )
    def read_weights() -> Any:
        data = current()
        if data is None:
            return JSONResponse(
                status_code=404, content={"error": "weights_not_available", "detail": NOT_AVAILABLE}
            )
        return data

    @router.get(
        "/weights",
        response_class=HTMLResponse,
        summary="The weights report as a page for marketers",
        responses={
            200: {"content": {"text/html": {}}, "description": "The report."},
            404: {"content": {"text/html": {}}, "description": NOT_AVAILABLE},
            **page_401,
        },
        dependencies=page_auth,
    )
    def weights_page() -> HTMLResponse:
        data = current()
        if data is None:
            return HTMLResponse(_UNAVAILABLE_PAGE, status_code=404)
        key = hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()
        with lock:
            page = rendered.get(key)
        if page is None:
            page = render_html(data)  # ~1 s of plotting; at most once per comparison
            with lock:
                rendered.clear()
                rendered[key] = page
        return HTMLResponse(page)

    return router
