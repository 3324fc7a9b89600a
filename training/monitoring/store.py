"""The score store: one SQLite file holding what was scored and what the monitor concluded.

SQLite because it is embedded (no server, like the default MLflow store it sits beside),
safe for several writers (the API's worker processes; write-ahead log, a busy timeout) and
readable by any tool. Two tables:

- ``scored_leads``: one row per lead scored: ``lead_id`` (text, as the CRM sent it), ``as_of``
  (the moment scored, which outcomes are counted from) and ``scored_at`` (the wall clock), both
  ISO 8601 UTC; the endpoint; the lead's stage; per transition its status, probability and
  model version; the hand-set points and whether they pass the threshold; ``features``, a JSON
  array of the watched features' values (``training.profile.monitored_features``), named by
  its ``feature_set``.
- ``feature_sets``: the names of each set of watched features, once (a JSON array): the values
  of a row without their names are a third of the bytes to write.
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
    "feature_names",
    "features",
)


def _sql_type(column: str) -> str:
    if column.endswith(("_probability", "_points")):
        return "REAL"
    return "INTEGER" if column in ("passes_threshold", "feature_set") else "TEXT"


_STORED = tuple("feature_set" if c == "feature_names" else c for c in COLUMNS)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS feature_sets (id INTEGER PRIMARY KEY, names TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS scored_leads (
    id INTEGER PRIMARY KEY,
    {", ".join(f"{column} {_sql_type(column)}" for column in _STORED)}
);
CREATE INDEX IF NOT EXISTS scored_leads_as_of ON scored_leads (as_of, lead_id);
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
    # with the write-ahead log this never corrupts the file; a power cut may lose the last
    # second of records, which is no reason to wait for the disk at every write
    connection.execute("PRAGMA synchronous=NORMAL")
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
        self._sets: dict[tuple[str, ...], int] = {}

    def _set_of(self, names: tuple[str, ...]) -> int:
        """The id of a set of feature names, added the first time it is seen."""
        found = self._sets.get(names)
        if found is None:
            text = json.dumps(list(names))
            self._connection.execute(
                "INSERT OR IGNORE INTO feature_sets (names) VALUES (?)", (text,)
            )
            (found,) = self._connection.execute(
                "SELECT id FROM feature_sets WHERE names = ?", (text,)
            ).fetchone()
            self._sets[names] = found
        return found

    def append(self, rows: Mapping[str, Sequence[Any]]) -> int:
        """Write one row per lead from columns named as ``COLUMNS`` (all of the same length;
        ``as_of`` and ``scored_at`` as ISO text, ``feature_names`` a tuple of names per row and
        ``features`` the JSON array of their values); returns the rows written."""
        missing = [c for c in COLUMNS if c not in rows]
        if missing:
            raise ValueError(f"score rows lack columns {missing}")
        with self._connection:  # one transaction
            sets = [self._set_of(tuple(names)) for names in rows["feature_names"]]
            columns = [sets if c == "feature_set" else rows[c] for c in _STORED]
            records = list(zip(*columns, strict=True))
            self._connection.executemany(
                f"INSERT INTO scored_leads ({', '.join(_STORED)}) "
                f"VALUES ({', '.join('?' * len(_STORED))})",
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
    as naive UTC timestamps, ``features`` and ``feature_names`` as JSON arrays. Empty when
    there is no store."""
    connection = _read_only(path)
    if connection is None:
        return pd.DataFrame(columns=["id", *COLUMNS])
    low, high = iso_times([since, until])
    selected = ", ".join(
        "f.names AS feature_names" if c == "feature_names" else f"s.{c}" for c in COLUMNS
    )
    query = (
        f"SELECT s.id, {selected} FROM scored_leads s LEFT JOIN feature_sets f "
        "ON s.feature_set = f.id WHERE s.as_of < :until AND s.lead_id IN "
        "(SELECT lead_id FROM scored_leads WHERE as_of >= :since AND as_of < :until) "
        "ORDER BY s.as_of, s.id"
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
