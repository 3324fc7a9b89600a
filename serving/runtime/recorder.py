"""Records what the API scored in the score store (``training.monitoring.store``), off the
request path, for ``leadscore monitor``.

The single-lead path serves thousands of requests a second, so recording costs a scoring pass
one append of references to columns it already has (the few watched features among them: no
work per lead). A background thread wakes every ``flush_s`` seconds, turns what piled up into
rows and writes them in one transaction. A write never fails a score: rows that cannot be
written are counted (``leadscore_score_records_total{outcome="failed"}``) and logged, and when
the writer falls behind by more than ``max_pending`` rows new ones are counted as ``dropped``
rather than held without bound.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from prometheus_client import Counter

from serving.scoring.scorer import ScoredLeads
from training.monitoring.store import COLUMNS, ScoreWriter, iso_times
from training.profile import monitored_features

log = logging.getLogger(__name__)
FLUSH_S = 1.0
MAX_PENDING_ROWS = 200_000


@dataclass(frozen=True)
class _Pass:
    """What one scoring pass leaves for the writer: references, nothing computed per lead."""

    endpoint: str
    scored_at: datetime
    scored: ScoredLeads
    features: dict[str, Any]


def _feature_values(column: Any) -> list[Any]:
    """One feature column as JSON-ready values: finite floats, text, None for missing. On
    whole arrays (no Python call per value): the writer's time is taken from scoring too."""
    if isinstance(column, np.ndarray) and column.dtype.kind in "biuf":
        numbers = column.astype(np.float64)
        values = numbers.astype(object)
        values[~np.isfinite(numbers)] = None
        return values.tolist()
    values = np.asarray(column, dtype=object)
    values[pd.isna(values)] = None
    return values.tolist()


def _iso(times: Sequence[Any]) -> list[str]:
    """Times as the store's text; aware datetimes (as the scorer has them) through their POSIX
    timestamps, a fifth of the time of formatting each (float64 holds them to 0.2 µs)."""
    if all(isinstance(t, datetime) and t.tzinfo is not None for t in times):
        micros = np.round(np.array([t.timestamp() for t in times]) * 1e6).astype(np.int64)
        return np.datetime_as_string(micros.astype("datetime64[us]"), unit="us").tolist()
    return iso_times(list(times))


def rows_of(done: _Pass) -> dict[str, list[Any]]:
    """The store's columns (``training.monitoring.store.COLUMNS``) of one pass's leads."""
    scored = done.scored
    n = len(scored)
    rows: dict[str, list[Any]] = {
        "lead_id": [str(lead_id) for lead_id in scored.lead_ids],
        "as_of": _iso(scored.as_of),
        "scored_at": _iso([done.scored_at]) * n,
        "endpoint": [done.endpoint] * n,
        "stage": list(scored.stage),
    }
    for transition, scores in scored.transitions.items():
        probability = scores.probability.astype(object)
        probability[np.isnan(scores.probability)] = None
        rows[f"{transition}_status"] = [status for status, _, _ in scores.parts]
        rows[f"{transition}_probability"] = probability.tolist()
        rows[f"{transition}_version"] = [scores.served.version] * n
    points = np.asarray(scored.hand_set_points, dtype=np.float64)
    rows["hand_set_points"] = points.tolist()
    rows["passes_threshold"] = (points >= scored.threshold).astype(int).tolist()
    names = tuple(done.features)
    columns = [_feature_values(column) for column in done.features.values()]
    rows["feature_names"] = [names] * n
    if columns:
        rows["features"] = [orjson.dumps(values).decode() for values in zip(*columns, strict=True)]
    else:
        rows["features"] = ["[]"] * n
    for column in COLUMNS:  # a transition the models lack: its columns empty
        rows.setdefault(column, [None] * n)
    return rows


class ScoreRecorder:
    """Buffers scoring passes and writes them to the store at ``path`` from its own thread.

    Attributes:
        path: the SQLite file (``core.settings.score_store_of``).
        records: counter of rows by outcome: written, failed, dropped.
    """

    def __init__(
        self,
        path: Path,
        records: Counter,
        *,
        flush_s: float = FLUSH_S,
        max_pending: int = MAX_PENDING_ROWS,
    ) -> None:
        self.path = Path(path)
        self.records = records
        self.flush_s = flush_s
        self.max_pending = max_pending
        self._pending: list[_Pass] = []
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watched: dict[tuple[int, ...], list[str]] = {}
        self._open_failed = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="score-recorder", daemon=True)
        self._thread.start()

    def record(self, endpoint: str, scored: ScoredLeads | None) -> None:
        """Keep a scoring pass for the writer; never raises into the scoring path."""
        if scored is None or not len(scored):
            return
        n = len(scored)
        try:
            names = self._watched_names(scored)
            features = {name: scored.features[name] for name in names if name in scored.features}
            done = _Pass(endpoint, datetime.now(UTC), scored, features)
        except Exception:  # a pass the recorder cannot read must not fail the scores
            log.exception("could not keep a scoring pass for the score store")
            self.records.labels("failed").inc(n)
            return
        with self._lock:
            if self._pending_rows + n > self.max_pending:
                self.records.labels("dropped").inc(n)
                return
            self._pending.append(done)
            self._pending_rows += n

    def _watched_names(self, scored: ScoredLeads) -> list[str]:
        """The watched features of the models that scored the pass (computed once per model)."""
        models = [scores.served.bundle.model for scores in scored.transitions.values()]
        key = tuple(id(model) for model in models)
        names = self._watched.get(key)
        if names is None:
            names = list(dict.fromkeys(n for model in models for n in monitored_features(model)))
            if len(self._watched) > 8:  # models reloaded many times: forget the old ones
                self._watched.clear()
            self._watched[key] = names
        return names

    def _run(self) -> None:
        writer: ScoreWriter | None = None
        while True:
            stopping = self._stop.wait(self.flush_s)
            if writer is None:
                writer = self._open()
            self._flush(writer)
            if stopping:
                break
        if writer is not None:
            writer.close()

    def _open(self) -> ScoreWriter | None:
        try:
            return ScoreWriter(self.path)
        except (sqlite3.Error, OSError) as error:
            if not self._open_failed:  # once, not every second
                log.warning("score store %s cannot be opened: %s", self.path, error)
            self._open_failed = True
            return None

    def _flush(self, writer: ScoreWriter | None) -> None:
        """Everything pending, in one transaction."""
        with self._lock:
            passes, self._pending, self._pending_rows = self._pending, [], 0
        merged: dict[str, list[Any]] = {column: [] for column in COLUMNS}
        for done in passes:
            try:
                rows = rows_of(done)
            except Exception:
                self.records.labels("failed").inc(len(done.scored))
                log.exception("could not turn %d scores into rows", len(done.scored))
                continue
            for column in COLUMNS:
                merged[column].extend(rows[column])
        n = len(merged["lead_id"])
        if not n:
            return
        try:
            if writer is None:
                raise sqlite3.OperationalError("the store cannot be opened")
            writer.append(merged)
        except (sqlite3.Error, OSError, ValueError) as error:
            self.records.labels("failed").inc(n)
            log.warning("could not record %d scores in %s: %s", n, self.path, error)
        else:
            self.records.labels("written").inc(n)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is pending and stop the thread (the app's shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
