"""The three tables of a Dask run, found and cut into partitions of whole leads.

A table is a Parquet dataset (``leads/``, a folder of part files) or one file
(``leads.parquet``); nothing is read until a partition is computed. Two ways to partitions:

- a dataset written partitioned by lead (``partitioning.json`` says ``{"by": "lead_id"}`` and
  the three folders hold the same file names, each file's leads in no other file): the files
  of one name are one partition, read as they are, no shuffle;
- anything else: every table is shuffled on a hash of ``lead_id`` into the same number of
  partitions, so partition i of each table holds the same leads.

Either way a partition's events whose lead is elsewhere are set aside by validation and counted
(``lead_id not in leads``), never dropped silently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.contract import TABLES, TIME_COLUMN, naive_utc
from core.errors import DataContractError
from core.paths import input_folder
from features.history import LeadHistory, SetAside
from features.io import read_table
from features.validate import validate_history
from features.validation.reasons import Reason

PARTITIONING_FILE = "partitioning.json"
BUCKET = "_lead_bucket"
BYTES_PER_PARTITION = 32 * 2**20  # of Parquet on disk: a few hundred MB once in memory

Tables = Mapping[str, pd.DataFrame]


@dataclass(frozen=True)
class LeadPartitions:
    """Attributes:
    parts: one Dask delayed value per partition, computing to the raw tables of its leads
        (``{"leads": ..., "touches": ..., "stage_changes": ...}``).
    files: the Parquet files of each table.
    shuffled: whether the tables were shuffled by lead (False: already partitioned by lead).
    """

    parts: tuple[object, ...]
    files: dict[str, tuple[Path, ...]]
    shuffled: bool


def table_files(directory: Path) -> dict[str, tuple[Path, ...]]:
    """The Parquet files of each table of ``directory``: ``{table}/*.parquet`` or
    ``{table}.parquet``; a missing table is a ``DataContractError`` naming both places."""
    directory = input_folder(directory, "folder of lead history (leads, touches, stage_changes)")
    found = {}
    for table in TABLES:
        folder, single = directory / table, directory / f"{table}.parquet"
        if folder.is_dir():
            files = tuple(sorted(folder.glob("*.parquet")))
            if not files:
                raise DataContractError(table, None, f"{folder}: no .parquet files in the folder")
        elif single.is_file():
            files = (single,)
        else:
            raise DataContractError(
                table, None, f"table not found: looked for {folder}/ (Parquet files) and {single}"
            )
        found[table] = files
    return found


def lead_partitions(
    directory: Path, *, partitions: int | None = None, workers: int = 1
) -> LeadPartitions:
    """The history of ``directory`` as partitions of whole leads (see the module docstring).

    ``partitions``: how many, when shuffling (default: one per ``BYTES_PER_PARTITION`` of
    Parquet, at least two per worker).
    """
    import dask
    import dask.dataframe as dd

    files = table_files(directory)
    if _partitioned_by_lead(Path(directory), files):
        names = [f.name for f in files["leads"]]
        parts = tuple(
            dask.delayed(_read_tables, pure=True)(
                {table: Path(directory) / table / name for table in TABLES}
            )
            for name in names
        )
        return LeadPartitions(parts=parts, files=files, shuffled=False)
    size = sum(f.stat().st_size for paths in files.values() for f in paths)
    n = partitions or max(2 * workers, math.ceil(size / BYTES_PER_PARTITION))
    shuffled = {}
    for table, paths in files.items():
        frame = dd.from_map(_read_plain, list(paths))
        frame = frame.map_partitions(_with_bucket, n)
        shuffled[table] = frame.shuffle(BUCKET, npartitions=n, shuffle_method="tasks")
    pieces = zip(*(shuffled[table].to_delayed() for table in TABLES), strict=True)
    parts = tuple(dask.delayed(_tables_of, pure=True)(*tables, tuple(TABLES)) for tables in pieces)
    return LeadPartitions(parts=parts, files=files, shuffled=True)


def _partitioned_by_lead(directory: Path, files: dict[str, tuple[Path, ...]]) -> bool:
    marker = directory / PARTITIONING_FILE
    if not marker.is_file():
        return False
    try:
        by = json.loads(marker.read_text(encoding="utf-8")).get("by")
    except (OSError, ValueError, AttributeError) as error:
        raise DataContractError("partitioning", None, f"cannot read {marker}: {error}") from error
    if by != "lead_id":
        raise DataContractError("partitioning", "by", f"{marker}: expected lead_id, got {by!r}")
    names = {table: [f.name for f in paths] for table, paths in files.items()}
    if any(list_ != names["leads"] for list_ in names.values()) or any(
        f.parent.name != table for table, paths in files.items() for f in paths
    ):
        raise DataContractError(
            "partitioning",
            None,
            f"{marker} says the data is partitioned by lead: each table needs a folder with the "
            "same file names",
        )
    return True


def _read_tables(paths: Mapping[str, Path]) -> dict[str, pd.DataFrame]:
    return {table: read_table(path) for table, path in paths.items()}


def _read_plain(path: Path) -> pd.DataFrame:
    """One file with categoricals as text: files may hold different category sets, and a
    shuffle concatenates pieces of many files (validation types the columns again)."""
    frame = read_table(path)
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].astype("str").where(frame[name].notna(), None)
    return frame


def _with_bucket(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """``frame`` with the partition its lead goes to: a hash of the id as text, so integer and
    text ids of the same lead meet (validation compares them as text too)."""
    ids = frame["lead_id"].astype("str").to_numpy(dtype=object)
    bucket = pd.util.hash_array(ids) % np.uint64(n)
    return frame.assign(**{BUCKET: bucket.astype(np.int64)})


def _tables_of(*frames_and_names: object) -> dict[str, pd.DataFrame]:
    *frames, names = frames_and_names
    return {
        name: frame.drop(columns=BUCKET).reset_index(drop=True)
        for name, frame in zip(names, frames, strict=True)
    }


def validated(tables: Tables, now: pd.Timestamp) -> tuple[LeadHistory | None, list[SetAside]]:
    """The contract-typed history of one partition and its rows set aside (as
    ``features.validate.validate_history``); None when the partition holds no lead (its
    events, if any, are set aside: their leads are in no partition)."""
    if len(tables["leads"]) == 0:
        aside = [
            SetAside(table=t, reason=Reason.NOT_IN_LEADS, rows=len(tables[t]))
            for t in ("touches", "stage_changes")
            if len(tables[t])
        ]
        return None, aside
    return validate_history(tables["leads"], tables["touches"], tables["stage_changes"], now=now)


def latest_event(files: Mapping[str, tuple[Path, ...]], now: pd.Timestamp) -> object:
    """A delayed value: the latest event time in the tables, ignoring times after ``now``
    (validation sets those rows aside). Reads the time columns only."""
    import dask

    latest = [
        dask.delayed(_latest_in, pure=True)(path, TIME_COLUMN[table], now)
        for table, paths in files.items()
        for path in paths
    ]
    return dask.delayed(_max_time, pure=True)(latest)


def _latest_in(path: Path, column: str, now: pd.Timestamp) -> pd.Timestamp | None:
    try:
        values = pd.read_parquet(path, columns=[column])[column]
    except (OSError, ValueError, KeyError) as error:
        raise DataContractError(path.stem, column, f"cannot read {path}: {error}") from error
    times = pd.to_datetime(values, errors="coerce", utc=True).dt.tz_localize(None)
    times = times[times <= naive_utc(pd.Timestamp(now))]
    return None if times.empty or pd.isna(times.max()) else pd.Timestamp(times.max())


def _max_time(values: list[pd.Timestamp | None]) -> pd.Timestamp | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None
