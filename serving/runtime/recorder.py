"""Records what the API scored in the score store (``training.monitoring.store``), off the
request path, for ``leadscore monitor``.

The single-lead path serves thousands of requests a second, so recording costs a scoring pass
one append of references to columns it already has (the few watched features among them: no
work per lead). A background thread wakes every ``flush_s`` seconds, joins what piled up
column by column into one Arrow block and writes it in one insert. A write never fails a
score: rows that cannot be written are counted
(``leadscore_score_records_total{outcome="failed"}``) and logged, and when the writer falls
behind by more than ``max_pending`` rows new ones are counted as ``dropped``
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
import pandas as pd
import pyarrow as pa
from prometheus_client import Counter

from core.contract import TRANSITIONS
from serving.scoring.scorer import ScoredLeads
from training.monitoring.store import COLUMNS, FEATURE_PREFIX, ScoreWriter
from training.profile import monitored_features

log = logging.getLogger(__name__)
FLUSH_S = 2.0  # a block per flush; the monitor merges a day's blocks into one
MAX_PENDING_ROWS = 200_000


@dataclass(frozen=True)
class _Pass:
    """What one scoring pass leaves for the writer: references to columns it already has
    (never the whole pass, whose 265 feature columns would live until the flush)."""

    endpoint: str
    scored_at: datetime
    lead_ids: Sequence[Any]
    as_of: Sequence[datetime]
    stage: Sequence[str]
    transitions: dict[str, tuple[list, np.ndarray, str | None]]  # parts, probability, version
    hand_set_points: np.ndarray
    threshold: float
    features: dict[str, Any]

    @classmethod
    def of(cls, endpoint: str, scored: ScoredLeads, names: Sequence[str]) -> _Pass:
        return cls(
            endpoint,
            datetime.now(UTC),
            scored.lead_ids,
            scored.as_of,
            scored.stage,
            {
                t: (s.parts, s.probability, s.served.version if s.served else None)
                for t, s in scored.transitions.items()
            },
            scored.hand_set_points,
            scored.threshold,
            {name: scored.features[name] for name in names if name in scored.features},
        )

    def __len__(self) -> int:
        return len(self.lead_ids)


def _arrow(parts: list[Any]) -> pa.Array:
    """A feature's values over several passes as one Arrow array, joined before converting
    (most of the cost is per conversion, not per value): numbers as float64 (NaN as null),
    categories by their codes (listing a categorical costs 40 µs even for one lead), text as
    string."""
    first = parts[0]
    if all(isinstance(p, np.ndarray) and p.dtype.kind in "biuf" for p in parts):
        return pa.array(np.concatenate(parts).astype(np.float64), from_pandas=True)
    categories = first.categories if isinstance(first, pd.Categorical) else None
    if categories is not None and all(
        type(p) is pd.Categorical and p.categories is categories for p in parts
    ):  # the contract's categories, shared by every pass: join the codes
        codes = np.concatenate([p.codes for p in parts]).astype(np.int32)
        indices = pa.array(codes, mask=codes < 0)
        return pa.DictionaryArray.from_arrays(indices, pa.array(categories.astype(str)))
    if isinstance(first, pd.api.extensions.ExtensionArray) and all(
        type(p) is type(first) and p.dtype == first.dtype for p in parts
    ):  # text (pandas' Arrow strings): joined by the array type's own concatenation
        return pa.array(type(first)._concat_same_type(parts), from_pandas=True).cast(pa.string())
    values = np.concatenate([np.asarray(list(p), dtype=object) for p in parts])
    return pa.array(values, from_pandas=True)


def block_of(passes: Sequence[_Pass]) -> pa.Table:
    """The store's block (``training.monitoring.store``) of passes that watched the same
    features, their columns joined pass by pass."""
    sizes = [len(done) for done in passes]
    utc = pa.timestamp("us", tz="UTC")
    columns: dict[str, pa.Array] = {
        "lead_id": pa.array([str(i) for done in passes for i in done.lead_ids], pa.string()),
        "as_of": pa.array([t for done in passes for t in done.as_of], utc),
        "scored_at": pa.array(np.repeat([d.scored_at for d in passes], sizes).tolist(), utc),
        "endpoint": pa.array(np.repeat([d.endpoint for d in passes], sizes), pa.string()),
        "stage": pa.array([stage for done in passes for stage in done.stage], pa.string()),
    }
    for transition in TRANSITIONS:
        if transition not in passes[0].transitions:
            continue
        scores = [done.transitions[transition] for done in passes]
        statuses = [status for parts, _, _ in scores for status, _, _ in parts]
        probability = np.concatenate([p for _, p, _ in scores])
        versions = np.repeat([str(v) if v is not None else "" for _, _, v in scores], sizes)
        columns[f"{transition}_status"] = pa.array(statuses, pa.string())
        columns[f"{transition}_probability"] = pa.array(probability, from_pandas=True)
        columns[f"{transition}_version"] = pa.array(versions, pa.string())
    points = np.concatenate([np.asarray(d.hand_set_points, np.float64) for d in passes])
    thresholds = np.repeat([done.threshold for done in passes], sizes)
    columns["hand_set_points"] = pa.array(points, from_pandas=True)
    columns["passes_threshold"] = pa.array(points >= thresholds)
    for name in passes[0].features:
        columns[FEATURE_PREFIX + name] = _arrow([done.features[name] for done in passes])
    n = sum(sizes)
    for column in COLUMNS:  # a transition the models lack: its columns empty
        columns.setdefault(column, pa.nulls(n, pa.string()))
    return pa.table(columns)


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
            done = _Pass.of(endpoint, scored, self._watched_names(scored))
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
        models = [
            scores.served.bundle.model
            for scores in scored.transitions.values()
            if scores.served is not None  # a transition without a model watches nothing
        ]
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
        for done in passes:  # a reload may change the watched features: a block per set
            groups.setdefault(tuple(done.features), []).append(done)
        for group in groups.values():
            n = sum(len(done) for done in group)
            try:
                if writer is None:
                    raise sqlite3.OperationalError("the store cannot be opened")
                writer.append(block_of(group))
            except Exception as error:  # never into the scoring path; counted and logged
                self.records.labels("failed").inc(n)
                log.warning("could not record %d scores in %s: %s", n, self.path, error)
            else:
                self.records.labels("written").inc(n)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is pending and stop the thread (the app's shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
