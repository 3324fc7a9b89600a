"""The API with some hand-written parts switched to the library that does the same job, so
``benchmarks/serving.py`` can measure each part end to end against its library route.

``BENCH_LIBRARY_ROUTES`` (comma-separated names of ``ROUTES``) names the parts switched; every
worker reads it in uvicorn's app factory (``app``), before the app is built, so the switch holds
in each process whatever worker model serves it. Not part of the service: the API has no such
settings, only this script's stand-ins for its hand-written parts.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

import serving.api.app
import serving.scoring.loading
from core.settings import get_settings
from serving.api.app import create_app, uvicorn_options

ENV = "BENCH_LIBRARY_ROUTES"


def _lightgbm_trees() -> None:
    serving.scoring.loading.tree_prediction = lambda model, _cache, _library=None: (
        model.raw_probability,
        "lightgbm",
    )


def _lightgbm_shap() -> None:
    serving.scoring.loading.tree_contributions = lambda model, _cache: (
        model.contribution_matrix,
        "lightgbm",
    )


def _pyarrow_json() -> None:
    serving.api.app.json_batch_reader = lambda _cache: None


# each part: what it is -> its library route, and what switches the API to that route (None:
# ``app`` and ``serve`` do it themselves)
ROUTES: dict[str, tuple[str, Callable[[], None] | None]] = {
    "workers": ("the supervisor dealing connections -> uvicorn's workers", None),
    "tree_shap": ("tree_shap.c -> LightGBM's pred_contrib", _lightgbm_shap),
    "json_reader": ("json_reader.c -> pyarrow's JSON reader", _pyarrow_json),
    "compiled_trees": ("tl2cgen's compiled trees -> LightGBM's predict", _lightgbm_trees),
}


def routes_of(text: str) -> list[str]:
    """The part names in ``text`` (comma-separated; SystemExit naming an unknown one)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ROUTES]
    if unknown:
        raise SystemExit(f"unknown parts {unknown}: known are {', '.join(ROUTES)}")
    return names


def app() -> FastAPI:
    """uvicorn's factory, in each worker: the API with the parts ``BENCH_LIBRARY_ROUTES`` names
    on their library route."""
    switched = routes_of(os.environ.get(ENV, ""))
    for name in switched:
        switch = ROUTES[name][1]
        if switch is not None:
            switch()
    return create_app(get_settings())


def serve(*, port: int, workers: int) -> None:
    """The API on 127.0.0.1:``port`` with ``workers`` workers, as ``run_server`` serves it, but
    for the parts ``BENCH_LIBRARY_ROUTES`` names; until SIGTERM."""
    switched = routes_of(os.environ.get(ENV, ""))
    options = uvicorn_options(host="127.0.0.1", port=port, access_log=False)
    options["app"] = f"{__name__}:app"
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="leadscore-metrics-")
    if workers == 1 or "workers" in switched:
        uvicorn.run(**options, workers=workers)
    else:
        serving.api.app.serve_workers(host="127.0.0.1", port=port, workers=workers, options=options)
