"""An export looked over before it is read: where each block's table is, whether it has the
columns a block cannot do without, how many rows it holds, the one format of each date column
(surveyed over all its values, chunk by chunk), and the joined tables held in memory.

Problems that mean the import cannot start (no leads table, a leads table without its id or
creation time, a date column whose convention the values leave open) raise ``InputError``
naming the file and column; a block whose table or required column is missing is skipped and
counted in its tally, and the import goes on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from core.contract import TIME_COLUMN
from core.dates import DateFormat, DateSurvey, agreed_convention, decide
from core.errors import InputError
from features.importing.cells import Lookup, as_text
from features.importing.engine import date_columns
from features.importing.mapping import Block, Mapping
from features.importing.sources import Source
from features.importing.tally import Tally

Progress = Callable[[str], None]


class Export:
    """The export's tables as a mapping sees them.

    Attributes:
        src: the source (folder or DuckDB file); mapping: the mapping applied.
        tallies: one per block of the mapping, in its order.
        usable: the blocks whose table and required columns were found, with their tallies.
        columns: table location -> its columns; rows: table location -> its row count.
        formats: ``Table.Column`` -> the one format that date column is read with.
        notes: lines for the report (joins that could not be made, repeated keys).
    """

    def __init__(self, src: Source, mapping: Mapping, say: Progress) -> None:
        self.src, self.mapping, self.say = src, mapping, say
        self.tallies = [Tally(b.table, b.source, b.path) for b in mapping.blocks]
        self.usable: list[tuple[Block, Tally]] = []
        self.columns: dict[str, list[str]] = {}
        self.rows: dict[str, int] = {}
        self.formats: dict[str, DateFormat] = {}
        self.notes: list[str] = []
        self._lookups: dict[tuple, Lookup | None] = {}

    def of(self, table: str) -> list[tuple[Block, Tally]]:
        return [(b, t) for b, t in self.usable if b.table == table]

    def find(self, table: str) -> str | None:
        return self.src.find(table, self.mapping.files.get(table, ()))

    # -- tables and required columns --------------------------------------------------------
    def locate(self) -> None:
        for block, tally in zip(self.mapping.blocks, self.tallies, strict=True):
            tally.found = self.find(block.source)
            if tally.found is None:
                if block.table == "leads":
                    raise InputError(
                        f"{self.src.description}: no {block.source} table, which the leads come "
                        f"from (mapping {self.mapping.name} at {block.path})"
                    )
                tally.note(f"no {block.source} table in the export: nothing read")
                continue
            if tally.found not in self.columns:
                self.columns[tally.found] = self.src.columns(tally.found)
            if self._has_required(block, tally):
                self.usable.append((block, tally))

    def _has_required(self, block: Block, tally: Tally) -> bool:
        """Whether the table has a column for each of the block's required specs; a block
        without one is skipped (a leads block stops the import)."""
        found = self.columns[tally.found]
        names = ["lead_id"] + ([] if block.stages else [TIME_COLUMN[block.table]])
        if block.table == "stage_changes" and not block.stages:
            names.append("stage")
        for name in names:
            spec = block.columns.get(name)
            if spec is None or not spec.columns or set(spec.columns) & set(found):
                continue
            if any("." in c for c in spec.columns):  # borrowed by a join: checked there
                continue
            problem = (
                f"required column missing: {block.table}.{name} needs one of "
                f"{', '.join(spec.columns)}"
            )
            shown = ", ".join(found[:10]) + (" ..." if len(found) > 10 else "")
            if block.table == "leads":
                raise InputError(f"{tally.found}: {problem} (columns found: {shown})")
            tally.rows_in = self.count_rows(tally.found)
            tally.skip(problem, tally.rows_in, f"columns found: {shown}")
            return False
        return True

    def count_rows(self, where: str) -> int:
        if where not in self.rows:
            first = self.columns[where][:1]
            self.rows[where] = sum(c.num_rows for c in self.src.chunks(where, first))
        return self.rows[where]

    # -- dates ------------------------------------------------------------------------------
    def survey_dates(self, convention: str | None) -> dict[str, str]:
        """Decide every date column's one format from all its values (and count each table's
        rows on the way); returns ``Table.Column`` -> the format in words."""
        wanted: dict[str, set[str]] = {}
        names: dict[str, str] = {}
        for block, tally in self.usable:
            present = date_columns(block) & set(self.columns[tally.found])
            wanted.setdefault(tally.found, set()).update(present)
            names[tally.found] = block.source
        surveys: dict[str, DateSurvey] = {}
        for where, columns in wanted.items():
            self.say(f"surveying the dates of {names[where]}...")
            rows = 0
            for chunk in self.src.chunks(where, sorted(columns) or self.columns[where][:1]):
                rows += chunk.num_rows
                for name in sorted(columns):
                    key, array = f"{names[where]}.{name}", chunk.column(name)
                    if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
                        self.formats[key] = DateFormat("typed")
                    else:
                        surveys.setdefault(key, DateSurvey()).add(array)
            self.rows[where] = rows
        fallback = agreed_convention(surveys.values())
        for key, survey in surveys.items():
            self.formats[key] = decide(survey, key, convention, fallback)
        return {k: self.formats[k].describe() for k in sorted(self.formats)}

    # -- joins ------------------------------------------------------------------------------
    def lookups(self, block: Block) -> list[Lookup]:
        """The block's joined tables, read once (key and taken columns, as text)."""
        out = []
        for join in block.joins:
            cache = (join.table, join.on[1], join.take)
            if cache not in self._lookups:
                self._lookups[cache] = self._lookup(block, join)
            if self._lookups[cache] is not None:
                out.append(self._lookups[cache])
        return out

    def _lookup(self, block: Block, join) -> Lookup | None:
        where = self.find(join.table)
        if where is None:
            self.notes.append(f"{block.path}: no {join.table} table to join: nothing borrowed")
            return None
        found = set(self.src.columns(where))
        if join.on[1] not in found:
            self.notes.append(f"{block.path}: {join.table} has no {join.on[1]} to join by")
            return None
        wanted = [join.on[1], *(c for c in join.take if c in found)]
        table = self.src.read(where, wanted)
        keys = as_text(table.column(join.on[1])).to_numpy(zero_copy_only=False).astype(object)
        first = ~pd.Index(keys).duplicated() & ~pd.isna(keys)
        repeated = int((~first & ~pd.isna(keys)).sum())
        if repeated:
            self.notes.append(
                f"{join.table}: {repeated:,} rows repeat a {join.on[1]}; the first is joined"
            )
        keep = pa.array(first)
        columns = {c: as_text(table.column(c)).filter(keep) for c in wanted[1:]}
        return Lookup(join, pd.Index(keys[np.asarray(first)]), columns)
