"""Prometheus metrics of the API: requests, latencies, and what the models say.

Each app has its own registry, so several apps (tests) never clash. With several uvicorn
workers ``run_server`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start, and
``/metrics`` then adds up every worker's numbers (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.runtime.monitor_gauges import MonitorGauges

if TYPE_CHECKING:
    from serving.scoring.scorer import ScoredLeads

LATENCY_BUCKETS = (
    0.001,
    0.002,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
)
PROBABILITY_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))
POINTS_BUCKETS = (-50, -20, -10, 0, 10, 20, 35, 50, 75, 100, 150)
PASS_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServiceMetrics:
    """Attributes (all prefixed ``leadscore_``):
    requests: HTTP requests by route template and status code.
    latency: seconds per request by route template.
    leads: leads by endpoint and outcome (scored, invalid).
    probability: calibrated probabilities by transition and status (open, hypothetical).
    hand_set_points: hand-set totals; priority: leads per priority tier.
    pass_leads: leads per vectorised scoring pass (how well single calls are coalesced).
    reloads: model reloads by result; model_info: 1 per served transition, version and alias.
    score_records: scored leads the score recorder wrote, failed to write, or dropped.
    listeners: who else reads every scoring pass (the score recorder), after the metrics.
    Gauges of the latest ``leadscore monitor`` run join once ``watch_monitor`` is called.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "leadscore_requests", "HTTP requests", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "leadscore_request_duration_seconds",
            "Request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.leads = Counter(
            "leadscore_leads", "Leads by endpoint and outcome", ["endpoint", "outcome"], registry=r
        )
        self.probability = Histogram(
            "leadscore_probability",
            "Calibrated probabilities returned",
            ["transition", "status"],
            buckets=PROBABILITY_BUCKETS,
            registry=r,
        )
        self.hand_set_points = Histogram(
            "leadscore_hand_set_points", "Hand-set point totals", buckets=POINTS_BUCKETS, registry=r
        )
        self.priority = Counter(
            "leadscore_priority", "Leads per priority tier", ["tier"], registry=r
        )
        self.pass_leads = Histogram(
            "leadscore_scoring_pass_leads",
            "Leads per scoring pass",
            buckets=PASS_BUCKETS,
            registry=r,
        )
        self.reloads = Counter("leadscore_model_reloads", "Model reloads", ["result"], registry=r)
        self.model_info = Gauge(
            "leadscore_model_info",
            "Served models (value 1)",
            ["transition", "version", "alias"],
            registry=r,
            multiprocess_mode="liveall",
        )
        self.score_records = Counter(
            "leadscore_score_records",
            "Scored leads recorded for monitoring, by outcome (written, failed, dropped)",
            ["outcome"],
            registry=r,
        )
        self.listeners: list[Callable[[str, ScoredLeads], None]] = []
        self._collectors: list[Collector] = []

    def watch_monitor(self, store: Path) -> None:
        """Show the latest monitor run saved in the score store ``store`` as gauges."""
        collector = MonitorGauges(store)
        self.registry.register(collector)
        self._collectors.append(collector)

    def observe_scored(self, endpoint: str, scored: ScoredLeads | None, invalid: int = 0) -> None:
        """A scoring pass's leads, from its columns and in bulk (``observe_many``): one
        observation at a time took 3 ms of a 1,000-lead batch. ``None``: nothing scored."""
        if scored is not None:
            for transition, scores in scored.transitions.items():
                by_status: dict[str, list[float]] = collections.defaultdict(list)
                probabilities = scores.probability.tolist()
                for (status, _, has_p), p in zip(scores.parts, probabilities, strict=True):
                    if has_p:
                        by_status[status].append(p)
                for status, values in by_status.items():
                    observe_many(self.probability.labels(transition, status), values)
            observe_many(self.hand_set_points, scored.hand_set_points.tolist())
            for tier, leads in collections.Counter(scored.priority).items():
                self.priority.labels(tier).inc(leads)
            self.leads.labels(endpoint, "scored").inc(len(scored))
        if invalid:
            self.leads.labels(endpoint, "invalid").inc(invalid)
        if scored is not None:
            for listener in self.listeners:
                listener(endpoint, scored)

    def show_models(self, served: Iterable[tuple[str, str | None, str | None]]) -> None:
        self.model_info.clear()
        for transition, version, alias in served:
            self.model_info.labels(transition, version or "", alias or "").set(1)

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            for collector in self._collectors:  # read by this process, not summed
                registry.register(collector)
            return generate_latest(registry)
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (never the raw path, so
    random URLs cannot blow up the label set). Plain ASGI: no per-request task overhead."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)


def observe_many(histogram: Histogram, values: Sequence[float]) -> None:
    """``histogram.observe(value)`` for every value, with one increment per bucket.

    prometheus_client has no bulk observe; this counts the values per bucket as ``observe``
    places them (the first bucket whose upper bound holds the value) and adds the sum, through
    the histogram's per-bucket values (``_upper_bounds``, ``_buckets``, ``_sum``, unchanged
    since 0.x). A test holds the exposition equal to observing one value at a time.
    """
    if not len(values):
        return
    amounts = np.asarray(values, dtype=np.float64)
    bounds = histogram._upper_bounds
    histogram._raise_if_not_observable()
    histogram._sum.inc(float(amounts.sum()))
    counts = np.bincount(np.searchsorted(bounds, amounts, side="left"), minlength=len(bounds))
    for bucket, count in zip(histogram._buckets, counts.tolist(), strict=False):
        if count:
            bucket.inc(count)
