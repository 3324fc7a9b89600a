"""The latest ``leadscore monitor`` run as Prometheus gauges on the API's ``/metrics``.

The monitor runs elsewhere (a cron job) and saves its summary in the score store; this
collector reads the newest one at each scrape, so an alerting rule sees drift, calibration and
score inflation next to the service's own numbers. No store or no run yet: no gauges (never a
made-up healthy value). Reading is one small query on the store's read-only connection.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from training.monitoring.store import latest_result

log = logging.getLogger(__name__)
CHECKS = ("psi", "calibration", "auc", "inflation")


class MonitorGauges(Collector):
    """Gauges (prefix ``leadscore_monitor_``) of the newest monitor summary in ``path``:

    alarms: alarms the run raised; alarm{transition,check}: 1 when that check alarmed;
    psi{transition,column}: population stability of the latest week (features and scores);
    share_above_threshold and capacity_share{transition,threshold}: the latest week's share of
    leads crossing a threshold and the share sales capacity allows; calibration_gap{transition}:
    observed minus predicted conversion of the latest matured cohort; auc{transition}: its
    ROC-AUC; last_run_timestamp_seconds: when the monitor ran.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def describe(self) -> list:
        return []  # read at each scrape: nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            summary = latest_result(self.path)
        except (sqlite3.Error, OSError, ValueError) as error:
            log.warning("monitor results in %s unreadable: %s", self.path, error)
            return
        if summary is None:
            return
        yield from gauges_of(summary)


def _gauge(name: str, text: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"leadscore_monitor_{name}", text, labels=labels)


def gauges_of(summary: dict) -> list[GaugeMetricFamily]:
    """The gauges of one monitor summary (``training.monitoring.run``'s ``summary``)."""
    alarms = summary.get("alarms", [])
    total = _gauge("alarms", "Alarms raised by the latest monitor run", [])
    total.add_metric([], len(alarms))
    last = _gauge("last_run_timestamp_seconds", "When the latest monitor run ran", [])
    last.add_metric([], datetime.fromisoformat(summary["ran_at"]).timestamp())
    alarm = _gauge("alarm", "1 when the check alarmed in the latest run", ["transition", "check"])
    psi = _gauge("psi", "Population stability of the latest week", ["transition", "column"])
    share = _gauge(
        "share_above_threshold", "Latest week's share crossing", ["transition", "threshold"]
    )
    capacity = _gauge(
        "capacity_share", "Share the sales capacity allows", ["transition", "threshold"]
    )
    gap = _gauge("calibration_gap", "Observed minus predicted, latest matured", ["transition"])
    auc = _gauge("auc", "ROC-AUC of the latest matured cohort", ["transition"])
    alarmed = {(a["transition"], a["check"]) for a in alarms}
    for transition, found in summary.get("transitions", {}).items():
        for check in CHECKS:
            alarm.add_metric([transition, check], float((transition, check) in alarmed))
        for column, value in (found.get("latest_week") or {}).get("psi", {}).items():
            if value is not None:
                psi.add_metric([transition, column], value)
        for threshold, values in found.get("shares", {}).items():
            if values.get("share") is not None:
                share.add_metric([transition, threshold], values["share"])
            if values.get("capacity_share") is not None:
                capacity.add_metric([transition, threshold], values["capacity_share"])
        cohort = found.get("latest_cohort") or {}
        if cohort.get("observed") is not None and cohort.get("predicted") is not None:
            gap.add_metric([transition], cohort["observed"] - cohort["predicted"])
        if cohort.get("auc") is not None:
            auc.add_metric([transition], cohort["auc"])
    return [total, last, alarm, psi, share, capacity, gap, auc]
