"""The contract tables an import writes: typed as ``core.contract`` says, as Parquet, touches
streamed chunk by chunk, and the stage entries made consistent per lead.

Closed vocabularies are written as dictionaries over the contract's values (the same in every
chunk, read back as categoricals); lead ids are integers when every one is a plain number (as
HubSpot's are), text otherwise (Salesforce's ``00Q...``), the same kind in all three tables.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.contract import STAGE_RANK, STAGES, TABLES, Column
from core.paths import writing

_PLAIN_NUMBER = re.compile(r"^(0|[1-9]\d{0,17})$")
ALSO_WON = "lost dropped: the lead was also won (another deal)"
REPEATED = "repeated stage entry (earliest kept)"


def ids_are_numbers(ids: pd.Series) -> bool:
    """Every lead id is a plain whole number (no sign, no leading zero, fits int64)."""
    return bool(len(ids)) and bool(ids.astype(str).str.match(_PLAIN_NUMBER).all())


def arrow_column(column: Column, values: object, numeric_ids: bool) -> pa.Array:
    """One contract column as Arrow in its contract type."""
    if column.kind == "id":
        text = pd.Series(values, dtype=object)
        return pa.array(
            text.astype("int64") if numeric_ids else text,
            pa.int64() if numeric_ids else pa.string(),
        )
    if column.kind == "timestamp":
        return pa.array(np.asarray(values, dtype="datetime64[ns]"), pa.timestamp("ns"))
    if column.kind == "category" and column.allowed:
        codes = pd.Categorical(
            pd.Series(values, dtype=object), categories=list(column.allowed)
        ).codes
        indices = pa.array(codes.astype(np.int8), mask=codes < 0)
        return pa.DictionaryArray.from_arrays(indices, pa.array(list(column.allowed), pa.string()))
    if column.kind == "category":
        return pa.array(pd.Series(values, dtype=object), pa.string())
    if column.kind == "integer":
        numbers = pd.array(pd.Series(values, dtype="float64").round(), dtype="Int64")
        return pa.array(numbers, pa.int64())
    if column.kind == "number":
        return pa.array(np.asarray(values, dtype="float64"), pa.float64(), from_pandas=True)
    return pa.array(pd.array(values, dtype="boolean"), pa.bool_())


def contract_table(name: str, frame: pd.DataFrame, numeric_ids: bool) -> pa.Table:
    """``frame``'s contract columns (absent ones all missing) as an Arrow table."""
    arrays = {}
    for column in TABLES[name]:
        values = frame[column.name] if column.name in frame else [None] * len(frame)
        arrays[column.name] = arrow_column(column, values, numeric_ids)
    return pa.table(arrays)


def write_table(table: pa.Table, path: Path) -> None:
    with writing(path):
        pq.write_table(table, path)


class TableWriter:
    """A contract table written chunk by chunk (bounded memory), with its row count and time
    range."""

    def __init__(self, name: str, path: Path, numeric_ids: bool, time_column: str) -> None:
        self.name, self.path, self.numeric_ids, self.time_column = (
            name,
            path,
            numeric_ids,
            time_column,
        )
        self.rows = 0
        self.first: np.datetime64 | None = None
        self.last: np.datetime64 | None = None
        schema = contract_table(name, pd.DataFrame(), numeric_ids).schema
        with writing(path):
            self.writer = pq.ParquetWriter(path, schema)

    def add(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        with writing(self.path):
            self.writer.write_table(contract_table(self.name, frame, self.numeric_ids))
        self.rows += len(frame)
        times = frame[self.time_column].to_numpy(dtype="datetime64[ns]")
        low, high = times.min(), times.max()
        self.first = low if self.first is None else min(self.first, low)
        self.last = high if self.last is None else max(self.last, high)

    def close(self) -> dict:
        with writing(self.path):
            self.writer.close()
        return described(self.rows, self.first, self.last)


def described(rows: int, first: object, last: object) -> dict:
    if not rows:
        return {"rows": 0}
    return {"rows": int(rows), "first": str(pd.Timestamp(first)), "last": str(pd.Timestamp(last))}


def consistent_stages(
    position: np.ndarray, stage: np.ndarray, changed_at: np.ndarray
) -> tuple[np.ndarray, Counter]:
    """Rows to keep of a lead's stage entries, and how many were dropped per reason: a stage
    entered twice keeps its earliest entry (exports repeat them: a status set back and
    forth, a customer date and a won deal), and a lead that is won keeps no lost (one of its
    deals was lost, another won)."""
    codes = np.array([STAGES.index(s) for s in STAGES])[pd.Categorical(stage, STAGES).codes]
    order = np.lexsort((changed_at, codes, position))
    keep = np.ones(len(position), dtype=bool)
    key = position[order].astype(np.int64) * len(STAGES) + codes[order]
    repeated = np.zeros(len(order), dtype=bool)
    repeated[1:] = key[1:] == key[:-1]
    keep[order[repeated]] = False
    won = np.unique(position[keep & (codes == STAGES.index("won"))])
    also_won = keep & (codes == STAGES.index("lost")) & np.isin(position, won)
    keep &= ~also_won
    fixes = Counter({REPEATED: int(repeated.sum()), ALSO_WON: int(also_won.sum())})
    return keep, +fixes


def coverage(position: np.ndarray, stage: np.ndarray) -> dict[str, int]:
    """Leads that entered each stage, in funnel order."""
    frame = pd.DataFrame({"position": position, "stage": stage})
    counts = frame.drop_duplicates().groupby("stage", observed=False).size()
    order = sorted(STAGES, key=lambda s: (STAGE_RANK[s], s == "lost"))
    return {s: int(counts.get(s, 0)) for s in order}
