"""The score store: one SQLite file holding what was scored and what the monitor concluded.

SQLite because it is embedded (no server, like the default MLflow store it sits beside) and
safe for several writers (the API's worker processes; write-ahead log, a busy timeout). Scores
are kept as blocks, not a row per lead: a row per lead cost the API more than a third of the
CPU of scoring a batch (measured: 12.5 ms more per 1,000-lead batch), a block is one insert.

- ``scored_blocks``: what the recorder wrote in one flush, as an Arrow IPC stream (lz4), with
  the first and last ``as_of`` and its row count. One row per lead scored: ``lead_id`` (text,
  as the CRM sent it), ``as_of`` (the moment scored, which outcomes are counted from) and
  ``scored_at`` (the wall clock), UTC; the endpoint; the lead's stage; per transition its
  status, probability and model version; the hand-set points and whether they pass the
  threshold; then the watched features' values (``training.profile.monitored_features``) as
  columns named ``feature.<name>``. Any Arrow reader opens a block.
- ``monitor_runs``: each ``leadscore monitor`` run's summary as JSON, newest last; the API's
  ``/metrics`` shows the latest as gauges.

Writing is for the API's background writer (``serving.runtime.recorder``), tests and
``compact`` (the monitor merges a day's blocks into one, so reading stays quick); reading is for
the monitor, and never creates the file.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.contract import TRANSITIONS

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
FEATURE_PREFIX = "feature."
PER_TRANSITION = ("status", "probability", "version")
COLUMNS: tuple[str, ...] = (
    "lead_id",
    "as_of",
    "scored_at",
    "endpoint",
    "stage",
    *(f"{t}_{part}" for t in TRANSITIONS for part in PER_TRANSITION),
    "hand_set_points",
    "passes_threshold",
)
LOOKBACK = pd.Timedelta(days=365)  # how far before a period its leads' earlier scores are sought
BUSY_TIMEOUT_S = 5.0
_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS scored_blocks (
    id INTEGER PRIMARY KEY,
    first_as_of TEXT NOT NULL,
    last_as_of TEXT NOT NULL,
    rows INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS scored_blocks_first ON scored_blocks (first_as_of);
CREATE TABLE IF NOT EXISTS monitor_runs (
    id INTEGER PRIMARY KEY,
    ran_at TEXT NOT NULL,
    since TEXT NOT NULL,
    until TEXT NOT NULL,
    alarms INTEGER NOT NULL,
    summary TEXT NOT NULL
);
"""


def iso_time(value: object) -> str:
    """A time (aware, or naive meaning UTC) as the store's text, which sorts as time does."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.strftime(TIME_FORMAT)


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
    connection.execute("PRAGMA journal_mode=WAL")
    # with the write-ahead log this never corrupts the file; a power cut may lose the last
    # blocks, which is no reason to wait for the disk at every write
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(_SCHEMA)
    return connection


def _read_only(path: Path) -> sqlite3.Connection | None:
    """A read-only connection, or None when there is no store file yet."""
    if not Path(path).is_file():
        return None
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)


def block_bytes(table: pa.Table) -> bytes:
    """A block as stored: an Arrow IPC stream, lz4-compressed, of one record batch (a column
    made of many small chunks would be written as as many batches)."""
    table = table.combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=_OPTIONS) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _block(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


class ScoreWriter:
    """Appends blocks of scored leads (and monitor results) to the store at ``path``,
    creating it. One connection, for the thread that made the writer (SQLite's rule)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = _connect(self.path)

    def append(self, table: pa.Table) -> int:
        """Write one block: ``COLUMNS`` (``as_of`` a UTC timestamp) and ``feature.*``
        columns; returns its rows."""
        missing = [c for c in COLUMNS if c not in table.column_names]
        if missing:
            raise ValueError(f"score rows lack columns {missing}")
        if not table.num_rows:
            return 0
        with self._connection:  # one transaction
            self._insert(table)
        return table.num_rows

    def _insert(self, table: pa.Table) -> None:
        bounds = pc.min_max(table["as_of"])
        self._connection.execute(
            "INSERT INTO scored_blocks (first_as_of, last_as_of, rows, data) VALUES (?, ?, ?, ?)",
            (
                iso_time(bounds["min"].as_py()),
                iso_time(bounds["max"].as_py()),
                table.num_rows,
                block_bytes(table),
            ),
        )

    def save_result(self, *, ran_at: str, since: str, until: str, summary: dict) -> None:
        """One monitor run's summary (``summary["alarms"]``: the alarms it raised)."""
        with self._connection:
            self._connection.execute(
                "INSERT INTO monitor_runs (ran_at, since, until, alarms, summary) "
                "VALUES (?, ?, ?, ?, ?)",
                (ran_at, since, until, len(summary.get("alarms", [])), json.dumps(summary)),
            )

    def compact(self, before: pd.Timestamp) -> int:
        """Merge the blocks whose leads were all scored before ``before`` into one block per
        day (of their first ``as_of``), each day in one transaction; returns blocks removed."""
        removed = 0
        days = self._connection.execute(
            "SELECT substr(first_as_of, 1, 10) AS day, COUNT(*) FROM scored_blocks "
            "WHERE last_as_of < ? GROUP BY day HAVING COUNT(*) > 1",
            (iso_time(before),),
        ).fetchall()
        for day, _ in days:
            with self._connection:
                found = self._connection.execute(
                    "SELECT id, data FROM scored_blocks WHERE last_as_of < ? "
                    "AND substr(first_as_of, 1, 10) = ?",
                    (iso_time(before), day),
                ).fetchall()
                merged = _concat([_block(data) for _, data in found])
                self._connection.executemany(
                    "DELETE FROM scored_blocks WHERE id = ?", [(i,) for i, _ in found]
                )
                self._insert(merged)
                removed += len(found) - 1
        return removed

    def close(self) -> None:
        self._connection.close()


def _concat(tables: list[pa.Table]) -> pa.Table:
    """Blocks together; a column one block lacks (another model's features) is null there."""
    return pa.concat_tables(tables, promote_options="permissive")


def read_scores(path: Path, *, since: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
    """Every recorded score of the leads scored at an ``as_of`` in [since, until), with their
    scores in the ``LOOKBACK`` before it (so a lead's first score can be found), ordered by
    ``as_of``; ``as_of`` and ``scored_at`` as naive UTC timestamps, an ``id`` per row. Empty
    when there is no store."""
    empty = pd.DataFrame(columns=["id", *COLUMNS])
    connection = _read_only(path)
    if connection is None:
        return empty
    with closing(connection):
        found = connection.execute(
            "SELECT data FROM scored_blocks WHERE first_as_of < ? AND last_as_of >= ? ORDER BY id",
            (iso_time(until), iso_time(since - LOOKBACK)),
        ).fetchall()
    if not found:
        return empty
    table = _concat([_block(data) for (data,) in found])
    low = pa.scalar(pd.Timestamp(since, tz="UTC"), pa.timestamp("us", tz="UTC"))
    high = pa.scalar(pd.Timestamp(until, tz="UTC"), pa.timestamp("us", tz="UTC"))
    as_of = table["as_of"].cast(pa.timestamp("us", tz="UTC"))
    before_until = pc.less(as_of, high)
    in_period = pc.and_(before_until, pc.greater_equal(as_of, low))
    leads = pc.unique(pc.filter(table["lead_id"], in_period))
    kept = table.filter(pc.and_(before_until, pc.is_in(table["lead_id"], value_set=leads)))
    frame = kept.to_pandas()
    for column in ("as_of", "scored_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_localize(None)
    frame.insert(0, "id", range(len(frame)))  # write order: ties in as_of keep it
    return frame.sort_values(["as_of", "id"], kind="stable", ignore_index=True)


def count_scores(path: Path) -> tuple[int, str | None, str | None]:
    """How many scores the store holds and the first and last ``as_of`` (for messages)."""
    connection = _read_only(path)
    if connection is None:
        return 0, None, None
    with closing(connection):
        try:
            found = connection.execute(
                "SELECT SUM(rows), MIN(first_as_of), MAX(last_as_of) FROM scored_blocks"
            ).fetchone()
        except sqlite3.OperationalError:  # a file that is not a score store
            return 0, None, None
    return int(found[0] or 0), found[1], found[2]


def latest_result(path: Path) -> dict | None:
    """The newest monitor run's summary (with ``ran_at``), or None when there is none."""
    connection = _read_only(path)
    if connection is None:
        return None
    with closing(connection):
        try:
            found = connection.execute(
                "SELECT ran_at, summary FROM monitor_runs ORDER BY id DESC LIMIT 1"
            ).fetchone()
        except sqlite3.OperationalError:  # no monitor run yet (or not a score store)
            return None
    if found is None:
        return None
    return {**json.loads(found[1]), "ran_at": found[0]}
