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


def _as_objects(column: Any, levels: dict[int, np.ndarray]) -> np.ndarray:
    """One pass's feature column as an object array of floats, text and None (missing). A
    categorical goes through its codes: listing it costs 40 µs even for one lead."""
    if isinstance(column, np.ndarray) and column.dtype.kind in "biuf":
        numbers = column.astype(np.float64)
        values = numbers.astype(object)
        values[~np.isfinite(numbers)] = None
        return values
    if isinstance(column, pd.Categorical):
        key = id(column.categories)
        if key not in levels:  # the categories with None for code -1, once per flush
            levels[key] = np.append(np.asarray(column.categories, dtype=object), None)
        return levels[key][column.codes]
    values = np.asarray(list(column), dtype=object)
    values[pd.isna(values)] = None
    return values


def _feature_column(parts: list[Any], levels: dict[int, np.ndarray]) -> list[Any]:
    """A feature's values over several passes; numbers are joined before they are converted."""
    if all(isinstance(p, np.ndarray) and p.dtype.kind in "biuf" for p in parts):
        return _as_objects(np.concatenate(parts), levels).tolist()
    first = parts[0]
    categories = first.categories if isinstance(first, pd.Categorical) else None
    if categories is not None and all(
        type(p) is pd.Categorical and p.categories is categories for p in parts
    ):  # the contract's categories, shared by every pass: join the codes
        codes = np.concatenate([p.codes for p in parts])
        return _as_objects(pd.Categorical.from_codes(codes, dtype=first.dtype), levels).tolist()
    if isinstance(first, pd.api.extensions.ExtensionArray) and all(
        type(p) is type(first) and p.dtype == first.dtype for p in parts
    ):  # text (pandas' Arrow strings): joined by the array type's own concatenation
        return _as_objects(type(first)._concat_same_type(parts), levels).tolist()
    return np.concatenate([_as_objects(p, levels) for p in parts]).tolist()


def _iso(times: Sequence[Any]) -> list[str]:
    """Times as the store's text; aware datetimes (as the scorer has them) through their POSIX
    timestamps, a fifth of the time of formatting each (float64 holds them to 0.2 µs)."""
    if all(isinstance(t, datetime) and t.tzinfo is not None for t in times):
        micros = np.round(np.array([t.timestamp() for t in times]) * 1e6).astype(np.int64)
        return np.datetime_as_string(micros.astype("datetime64[us]"), unit="us").tolist()
    return iso_times(list(times))


def rows_of(passes: Sequence[_Pass]) -> dict[str, list[Any]]:
    """The store's columns (``training.monitoring.store.COLUMNS``) of the leads of passes that
    watched the same features. Their columns are joined first and converted once: most of the
    cost is per conversion, not per lead, and a busy single-lead path leaves many small passes.
    """
    sizes = [len(done.scored) for done in passes]
    n = sum(sizes)
    rows: dict[str, list[Any]] = {
        "lead_id": [str(i) for done in passes for i in done.scored.lead_ids],
        "as_of": _iso([t for done in passes for t in done.scored.as_of]),
        "scored_at": np.repeat(_iso([done.scored_at for done in passes]), sizes).tolist(),
        "endpoint": [
            done.endpoint for done, k in zip(passes, sizes, strict=True) for _ in range(k)
        ],
        "stage": [stage for done in passes for stage in done.scored.stage],
    }
    for transition in passes[0].scored.transitions:
        scores = [done.scored.transitions[transition] for done in passes]
        probability = np.concatenate([s.probability for s in scores])
        values = probability.astype(object)
        values[np.isnan(probability)] = None
        rows[f"{transition}_status"] = [status for s in scores for status, _, _ in s.parts]
        rows[f"{transition}_probability"] = values.tolist()
        rows[f"{transition}_version"] = [
            s.served.version for s, k in zip(scores, sizes, strict=True) for _ in range(k)
        ]
    points = np.concatenate([np.asarray(d.scored.hand_set_points, np.float64) for d in passes])
    thresholds = np.repeat([done.scored.threshold for done in passes], sizes)
    rows["hand_set_points"] = points.tolist()
    rows["passes_threshold"] = (points >= thresholds).astype(int).tolist()
    names = tuple(passes[0].features)
    levels: dict[int, np.ndarray] = {}
    columns = [_feature_column([d.features[name] for d in passes], levels) for name in names]
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
        groups: dict[tuple[str, ...], list[_Pass]] = {}
        for done in passes:  # a reload may change the watched features
            groups.setdefault(tuple(done.features), []).append(done)
        merged: dict[str, list[Any]] = {column: [] for column in COLUMNS}
        for group in groups.values():
            try:
                rows = rows_of(group)
            except Exception:
                lost = sum(len(done.scored) for done in group)
                self.records.labels("failed").inc(lost)
                log.exception("could not turn %d scores into rows", lost)
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
