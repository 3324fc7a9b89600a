"""The score store: one SQLite file holding what was scored and what the monitor concluded.

SQLite because it is embedded (no server, like the default MLflow store it sits beside),
safe for several writers (the API's worker processes; write-ahead log, a busy timeout) and
readable by any tool. Two tables:

- ``scored_leads``: one row per lead scored: ``lead_id`` (text, as the CRM sent it), ``as_of``
  (the moment scored, which outcomes are counted from) and ``scored_at`` (the wall clock), both
  ISO 8601 UTC; the endpoint; the lead's stage; per transition its status, probability and
  model version; the hand-set points and whether they pass the threshold; ``features``, a JSON
  object of the watched features' values (``training.profile.monitored_features``).
- ``monitor_runs``: each ``leadscore monitor`` run's summary as JSON, newest last; the API's
  ``/metrics`` shows the latest as gauges.

Writing is for the API's background writer (``serving.runtime.recorder``) and tests; reading
for the monitor. Reading never creates the file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd

from core.contract import TRANSITIONS

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
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
    "features",
)


def _sql_type(column: str) -> str:
    if column.endswith(("_probability", "_points")):
        return "REAL"
    return "INTEGER" if column == "passes_threshold" else "TEXT"


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS scored_leads (
    id INTEGER PRIMARY KEY,
    {", ".join(f"{column} {_sql_type(column)}" for column in COLUMNS)}
);
CREATE INDEX IF NOT EXISTS scored_leads_as_of ON scored_leads (as_of);
CREATE INDEX IF NOT EXISTS scored_leads_lead ON scored_leads (lead_id);
CREATE TABLE IF NOT EXISTS monitor_runs (
    id INTEGER PRIMARY KEY,
    ran_at TEXT NOT NULL,
    since TEXT NOT NULL,
    until TEXT NOT NULL,
    alarms INTEGER NOT NULL,
    summary TEXT NOT NULL
);
"""
BUSY_TIMEOUT_S = 5.0


def iso_times(values: Sequence[Any]) -> list[str]:
    """Times (aware or naive-UTC datetimes, Timestamps, datetime64) as the store's text."""
    stamps = pd.to_datetime(pd.Series(values), utc=True).dt.tz_convert(None)
    return stamps.dt.strftime(TIME_FORMAT).tolist()


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(_SCHEMA)
    return connection


def _read_only(path: Path) -> sqlite3.Connection | None:
    """A read-only connection, or None when there is no store file yet."""
    if not Path(path).is_file():
        return None
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)


class ScoreWriter:
    """Appends scored leads (and monitor results) to the store at ``path``, creating it.

    One connection, for the thread that made the writer (SQLite's rule); ``close`` ends it.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = _connect(self.path)

    def append(self, rows: Mapping[str, Sequence[Any]]) -> int:
        """Write one row per lead from columns named as ``COLUMNS`` (all of the same length;
        ``as_of`` and ``scored_at`` as ISO text, ``features`` as JSON text); returns the rows."""
        missing = [c for c in COLUMNS if c not in rows]
        if missing:
            raise ValueError(f"score rows lack columns {missing}")
        records = list(zip(*(rows[c] for c in COLUMNS), strict=True))
        with self._connection:  # one transaction
            self._connection.executemany(
                f"INSERT INTO scored_leads ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(COLUMNS))})",
                records,
            )
        return len(records)

    def save_result(self, *, ran_at: str, since: str, until: str, summary: dict) -> None:
        """One monitor run's summary (``summary["alarms"]``: the alarms it raised)."""
        with self._connection:
            self._connection.execute(
                "INSERT INTO monitor_runs (ran_at, since, until, alarms, summary) "
                "VALUES (?, ?, ?, ?, ?)",
                (ran_at, since, until, len(summary.get("alarms", [])), json.dumps(summary)),
            )

    def close(self) -> None:
        self._connection.close()


def read_scores(path: Path, *, since: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
    """Every recorded score of the leads scored at an ``as_of`` in [since, until), including
    their earlier scores (so a lead's first score can be found); ``as_of`` and ``scored_at``
    as naive UTC timestamps, ``features`` still JSON text. Empty when there is no store."""
    connection = _read_only(path)
    if connection is None:
        return pd.DataFrame(columns=["id", *COLUMNS])
    low, high = iso_times([since, until])
    query = (
        f"SELECT id, {', '.join(COLUMNS)} FROM scored_leads WHERE as_of < :until AND lead_id IN "
        "(SELECT lead_id FROM scored_leads WHERE as_of >= :since AND as_of < :until) "
        "ORDER BY as_of, id"
    )
    with closing(connection):
        frame = pd.read_sql_query(query, connection, params={"since": low, "until": high})
    for column in ("as_of", "scored_at"):
        frame[column] = pd.to_datetime(frame[column], format=TIME_FORMAT)
    return frame


def count_scores(path: Path) -> tuple[int, str | None, str | None]:
    """How many scores the store holds and the first and last ``as_of`` (for messages)."""
    connection = _read_only(path)
    if connection is None:
        return 0, None, None
    with closing(connection):
        try:
            found = connection.execute(
                "SELECT COUNT(*), MIN(as_of), MAX(as_of) FROM scored_leads"
            ).fetchone()
        except sqlite3.OperationalError:  # a file that is not a score store
            return 0, None, None
    return int(found[0]), found[1], found[2]


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
