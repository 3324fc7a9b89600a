"""The mapping engine: one block of a mapping applied to one chunk of its source table.

Vectorised over Arrow arrays, a chunk at a time: keep the rows ``where`` selects, borrow the
joined columns, split multi-id cells, then make each contract column from its spec (constant,
first filled column, value map, default, transform, scale) and type it: dates in their
column's one format (``core.dates``), numbers, booleans, contract vocabularies. A row whose
required value is missing, unreadable or outside the vocabulary is skipped and counted with an
example (``Tally``); an optional attribute that is unknown or unreadable is set to missing and
counted; values mapped to nothing (``~``) leave their row out by design.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.contract import TABLES, Column
from core.dates import DateFormat, parse_dates
from features.importing.mapping import Block, Condition, Join, Spec, _key
from features.importing.tally import Tally

FREE_MAIL = frozenset(
    (
        *("gmail.com", "googlemail.com", "yahoo.com", "yahoo.de", "hotmail.com", "outlook.com"),
        *("live.com", "msn.com", "aol.com", "icloud.com", "me.com", "gmx.de", "gmx.net"),
        *("web.de", "t-online.de", "mail.com", "protonmail.com", "proton.me", "yandex.ru"),
        *("mail.ru", "qq.com", "163.com", "zoho.com"),
    )
)
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
_ROW = "__row__"


@dataclass(frozen=True)
class Lookup:
    """A joined table held in memory: its key (as text) -> the row of the taken columns."""

    join: Join
    keys: pd.Index
    columns: dict[str, pa.Array]


def source_columns(block: Block) -> set[str]:
    """Every source column the block may read (the columns a chunk must carry)."""
    own = {name for c in block.where for name in c.columns}
    specs = [*block.columns.values(), *block.stages.values()]
    own |= {name for spec in specs for name in spec.columns}
    own |= {name for case in block.kinds for cond in case.when for name in cond.columns}
    own |= {j.on[0] for j in block.joins}
    borrowed = {f"{j.table}.{c}" for j in block.joins for c in j.take}
    return own - borrowed


def date_columns(block: Block) -> set[str]:
    """Source columns the block reads as timestamps (surveyed before the import)."""
    specs = [*block.stages.values()]
    specs += [
        s for name, s in block.columns.items() if _contract(block.table, name).kind == "timestamp"
    ]
    return {name for spec in specs for name in spec.columns}


def apply_block(
    block: Block,
    chunk: pa.Table,
    first_row: int,
    tally: Tally,
    formats: dict[str, DateFormat],
    lookups: list[Lookup],
) -> pd.DataFrame:
    """The contract rows one chunk yields (lead ids as text, not yet checked against leads),
    with ``__row__``: the source row each came from (0-based, for examples)."""
    tally.rows_in += chunk.num_rows
    chunk = chunk.append_column(_ROW, pa.array(np.arange(first_row, first_row + chunk.num_rows)))
    for lookup in lookups:
        chunk = _joined(chunk, lookup, tally)
    keep = np.ones(chunk.num_rows, dtype=bool)
    for condition in block.where:
        if _present(condition, chunk) is None:
            tally.note(f"where: {' or '.join(condition.columns)} not in the file: not tested")
            continue
        keep &= _holds(condition, chunk)
    if not keep.all():
        tally.left_out[f"not selected (where {block.where_text})"] += int((~keep).sum())
        chunk = chunk.filter(pa.array(keep))
    chunk = _split_ids(chunk, block.columns["lead_id"])
    rows = _Rows(block, chunk, tally, formats)
    if block.stages:
        return rows.stage_entries()
    out = {"lead_id": rows.ids()}
    if block.table == "touches" and block.kinds:
        out |= rows.kinds()
    for name, spec in block.columns.items():
        if name not in out:
            out[name] = rows.typed(_contract(block.table, name), spec)
    out[_ROW] = rows.rows
    return pd.DataFrame(out)[~rows.dropped & ~rows.left].reset_index(drop=True)


class _Rows:
    """One prepared chunk of a block: makes its contract columns, marking the rows that are
    skipped (``dropped``, counted as problems) or left out by the mapping (``left``)."""

    def __init__(
        self, block: Block, chunk: pa.Table, tally: Tally, formats: dict[str, DateFormat]
    ) -> None:
        self.block, self.chunk, self.tally, self.formats = block, chunk, tally, formats
        self.n = chunk.num_rows
        self.dropped = np.zeros(self.n, dtype=bool)
        self.left = np.zeros(self.n, dtype=bool)
        self.rows = chunk.column(_ROW).to_numpy()

    def where(self, spec: Spec) -> str:
        return f"{self.block.source}.{', '.join(spec.columns)}" if spec.columns else "constant"

    def example(self, mask: np.ndarray, values: np.ndarray) -> tuple[int, str]:
        hits = np.flatnonzero(mask)
        if not hits.size:
            return 0, ""
        first = int(hits[0])
        return int(hits.size), f"row {self.rows[first]}: {values[first]!r}"

    def drop(self, reason: str, mask: np.ndarray, values: np.ndarray) -> None:
        """Skip the rows of ``mask`` (not already skipped or left out), counted under
        ``reason`` with the first one's value as the example."""
        mask = mask & ~self.dropped & ~self.left
        self.tally.skip(reason, *self.example(mask, values))
        self.dropped |= mask

    def set_missing(self, reason: str, mask: np.ndarray, values: np.ndarray) -> None:
        self.tally.missing(reason, *self.example(mask & ~self.dropped & ~self.left, values))

    def ids(self) -> np.ndarray:
        spec = self.block.columns["lead_id"]
        values = self.text(spec)
        self.drop(f"missing lead_id ({self.where(spec)})", pd.isna(values), values)
        return values

    def text(self, spec: Spec) -> np.ndarray:
        """The spec's raw value per row as text (object array, None when empty): the constant,
        or the first filled of its columns that the file has."""
        if not spec.columns:
            return np.full(self.n, None if spec.value is None else str(spec.value), dtype=object)
        present = [c for c in spec.columns if c in self.chunk.column_names]
        if not present:
            self.tally.note(f"{self.where(spec)}: not in the file")
            return np.full(self.n, None, dtype=object)
        arrays = [_as_text(self.chunk.column(c)) for c in present]
        merged = arrays[0] if len(arrays) == 1 else pc.coalesce(*arrays)
        return merged.to_numpy(zero_copy_only=False).astype(object)

    def typed(self, column: Column, spec: Spec) -> object:
        """One contract column from its spec, typed; bad values skip the row (required
        columns) or are set to missing (attributes), counted either way."""
        if column.kind == "timestamp":
            return self.timestamps(column, spec)
        raw = self.text(spec)
        if spec.transform == "present":
            return pd.array(~pd.isna(raw), dtype="boolean")
        if spec.transform == "email_domain":
            return _email_domain(raw)
        nothing = np.zeros(self.n, dtype=bool)
        values = raw
        if spec.map is not None:
            values, nothing = self.mapped(column, spec, raw)
        if spec.default is not None:
            values = np.where(pd.isna(values) & ~nothing, str(spec.default), values)
        required = column.required and not column.nullable
        if required and nothing.any():
            fresh = nothing & ~self.dropped & ~self.left
            reason = f"{column.name} mapped to nothing ({self.where(spec)})"
            self.tally.left_out[reason] += int(fresh.sum())
            self.left |= fresh
        if column.kind in ("number", "integer"):
            return self.numbers(column, spec, values)
        if column.kind == "boolean":
            return self.booleans(column, spec, values)
        if column.allowed:
            return self.vocabulary(column, spec, values, raw)
        if required:
            self.drop(f"missing {column.name} ({self.where(spec)})", pd.isna(values), raw)
        return values

    def mapped(self, column: Column, spec: Spec, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mapped values, rows mapped to nothing). Values outside the map follow ``other``:
        kept as they are, a fixed value, nothing (``~``), or missing (counted)."""
        keys = pd.Series(raw, dtype=object).map(lambda v: None if v is None else _key(v))
        found = keys.isin(list(spec.map)).to_numpy()
        values = keys.map(spec.map).to_numpy(dtype=object)
        values = np.where(found, values, None)
        nothing = found & pd.isna(values)
        present = ~pd.isna(raw)
        self.tally.seen(column.name, Counter(raw[present & ~self.dropped].astype(str)))
        unmapped = ~found & present
        if spec.other == "keep":
            values = np.where(unmapped, raw, values)
        elif spec.other is None:
            nothing |= unmapped
        elif spec.other != "missing":
            values = np.where(unmapped, spec.other, values)
        elif column.required and not column.nullable:
            self.drop(f"unknown {column.name} value ({self.where(spec)})", unmapped, raw)
        else:
            reason = f"unmapped {column.name} value set to missing ({self.where(spec)})"
            self.set_missing(reason, unmapped, raw)
        return values, nothing

    def vocabulary(self, column: Column, spec: Spec, values: np.ndarray, raw: np.ndarray):
        text = pd.Series(values, dtype=object)
        bad = (~text.isin(column.allowed) & text.notna()).to_numpy()
        if column.required and not column.nullable:
            self.drop(f"unknown {column.name} value ({self.where(spec)})", bad, raw)
            self.drop(f"missing {column.name} ({self.where(spec)})", text.isna().to_numpy(), raw)
        else:
            reason = f"unknown {column.name} value set to missing ({self.where(spec)})"
            self.set_missing(reason, bad, raw)
        return np.where(bad, None, values)

    def numbers(self, column: Column, spec: Spec, values: np.ndarray) -> np.ndarray:
        text = pd.Series(values, dtype=object).map(
            lambda v: None if v is None else str(v).replace(",", "").strip()
        )
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
        bad = np.isnan(numbers) & text.notna().to_numpy()
        if column.kind == "integer":
            bad |= np.isfinite(numbers) & (numbers != np.round(numbers))
        reason = f"unreadable {column.name} set to missing ({self.where(spec)})"
        self.set_missing(reason, bad, values)
        numbers = np.where(bad, np.nan, numbers)
        return np.round(numbers * spec.scale, 6) if spec.scale is not None else numbers

    def booleans(self, column: Column, spec: Spec, values: np.ndarray):
        keys = pd.Series(values, dtype=object).map(lambda v: None if v is None else _key(v))
        out = keys.map(lambda k: True if k in _TRUE else False if k in _FALSE else None)
        bad = (out.isna() & keys.notna()).to_numpy()
        self.set_missing(
            f"unreadable {column.name} set to missing ({self.where(spec)})", bad, values
        )
        return pd.array(out.to_numpy(dtype=object), dtype="boolean")

    def timestamps(self, column: Column, spec: Spec, required: bool = True) -> np.ndarray:
        """The first filled date among the spec's columns, each read in its own format."""
        stamps = np.full(self.n, np.datetime64("NaT"), dtype="datetime64[ns]")
        raw = np.full(self.n, None, dtype=object)
        for name in spec.columns:
            if name not in self.chunk.column_names:
                self.tally.note(f"{self.block.source}.{name}: not in the file")
                continue
            array = self.chunk.column(name)
            fmt = self.formats.get(f"{self.block.source}.{name}", DateFormat("iso"))
            parsed = parse_dates(array, fmt)
            text = _as_text(array).to_numpy(zero_copy_only=False).astype(object)
            fill = np.isnat(stamps) & pd.isna(raw) & ~pd.isna(text)
            stamps = np.where(fill, parsed, stamps)
            raw = np.where(fill, text, raw)
        if required:
            where = self.where(spec)
            self.drop(f"missing {column.name} ({where})", pd.isna(raw), raw)
            self.drop(f"unreadable {column.name} ({where})", np.isnat(stamps) & ~pd.isna(raw), raw)
        return stamps

    def kinds(self) -> dict[str, np.ndarray]:
        """channel, action and page_type from the first case whose conditions all hold; a
        row no case takes is skipped, its tested values shown."""
        names = ("channel", "action", "page_type")
        out = {name: np.full(self.n, None, dtype=object) for name in names}
        open_rows = np.ones(self.n, dtype=bool)
        for case in self.block.kinds:
            hit = open_rows.copy()
            for condition in case.when:
                hit &= _holds(condition, self.chunk)
            for name, value in case.set.items():
                out[name] = np.where(hit, value, out[name])
            open_rows &= ~hit
        if (open_rows & ~self.dropped).any():
            tested = sorted({n for case in self.block.kinds for c in case.when for n in c.columns})
            first = int(np.flatnonzero(open_rows & ~self.dropped)[0])
            one = self.chunk.slice(first, 1)
            shown = np.full(self.n, None, dtype=object)
            shown[first] = ", ".join(
                f"{c}={_as_text(one.column(c))[0].as_py()!r}"
                for c in tested
                if c in one.column_names
            )
            reason = f"no touch kind matches ({self.block.source}: {', '.join(tested)})"
            self.drop(reason, open_rows, shown)
        return out

    def stage_entries(self) -> pd.DataFrame:
        """One stage entry per filled date column of ``stages``; a present date that cannot
        be read is counted (its stage is not entered)."""
        ids = self.ids()
        frames = []
        changed_at = _contract("stage_changes", "changed_at")
        for stage, spec in self.block.stages.items():
            stamps = self.timestamps(changed_at, spec, required=False)
            raw = self.text(Spec(columns=spec.columns))
            bad = np.isnat(stamps) & ~pd.isna(raw) & ~self.dropped
            self.tally.skip(
                f"unreadable {stage} date ({self.where(spec)})", *self.example(bad, raw)
            )
            entered = ~np.isnat(stamps) & ~self.dropped
            frames.append(
                pd.DataFrame(
                    {
                        "lead_id": ids[entered],
                        "stage": stage,
                        "changed_at": stamps[entered],
                        _ROW: self.rows[entered],
                    }
                )
            )
        if not frames:
            return pd.DataFrame(columns=["lead_id", "stage", "changed_at", _ROW])
        return pd.concat(frames, ignore_index=True)


# -- helpers ---------------------------------------------------------------------------------
def _contract(table: str, name: str) -> Column:
    return next(c for c in TABLES[table] if c.name == name)


def _as_text(array: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Any Arrow column as trimmed text, empty as null (typed Parquet columns included)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_boolean(array.type):
        array = pc.if_else(array, "true", "false")
    elif pa.types.is_floating(array.type):
        whole = pc.equal(array, pc.round(array))
        array = pc.if_else(
            whole,
            pc.cast(pc.cast(array, pa.int64(), safe=False), pa.string()),
            pc.cast(array, pa.string()),
        )
    elif not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        array = pc.cast(array, pa.string())
    trimmed = pc.utf8_trim_whitespace(array)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _present(condition: Condition, chunk: pa.Table) -> str | None:
    return next((c for c in condition.columns if c in chunk.column_names), None)


def _holds(condition: Condition, chunk: pa.Table) -> np.ndarray:
    """Rows where the condition holds (none when the file lacks its column)."""
    column = _present(condition, chunk)
    if column is None:
        return np.zeros(chunk.num_rows, dtype=bool)
    text = _as_text(chunk.column(column))
    if condition.filled is not None:
        filled = text.is_valid().to_numpy(zero_copy_only=False)
        return filled if condition.filled else ~filled
    if condition.pattern is not None:
        hits = pc.match_substring_regex(text, condition.pattern, ignore_case=True)
    else:
        hits = pc.is_in(
            pc.utf8_lower(text), value_set=pa.array(list(condition.values), pa.string())
        )
    return pc.fill_null(hits, False).to_numpy(zero_copy_only=False)


def _joined(chunk: pa.Table, lookup: Lookup, tally: Tally) -> pa.Table:
    mine = lookup.join.on[0]
    if mine not in chunk.column_names:
        tally.note(f"{tally.source}.{mine}: not in the file (join to {lookup.join.table})")
        keys = np.full(chunk.num_rows, None, dtype=object)
    else:
        keys = _as_text(chunk.column(mine)).to_numpy(zero_copy_only=False)
    positions = lookup.keys.get_indexer(pd.Index(keys, dtype=object))
    found = pa.array(positions >= 0)
    indices = pa.array(np.maximum(positions, 0))
    for name, values in lookup.columns.items():
        taken = values.take(indices) if len(values) else pa.nulls(len(positions), values.type)
        taken = pc.if_else(found, taken, pa.scalar(None, taken.type))
        chunk = chunk.append_column(f"{lookup.join.table}.{name}", taken)
    return chunk


def _split_ids(chunk: pa.Table, spec: Spec) -> pa.Table:
    if spec.split is None:
        return chunk
    present = [c for c in spec.columns if c in chunk.column_names]
    if not present:
        return chunk
    pieces = pc.split_pattern(_as_text(chunk.column(present[0])), spec.split)
    parents = pc.list_parent_indices(pieces)
    exploded = chunk.take(parents)
    flat = pc.utf8_trim_whitespace(pc.list_flatten(pieces))
    index = exploded.column_names.index(present[0])
    return exploded.set_column(index, present[0], flat)


def _email_domain(raw: np.ndarray) -> np.ndarray:
    domains = pd.Series(raw, dtype=object).str.rsplit("@", n=1).str[-1].str.strip().str.lower()
    has_at = pd.Series(raw, dtype=object).str.contains("@", regex=False).fillna(False).to_numpy()
    kind = np.where(domains.isin(FREE_MAIL).to_numpy(), "free", "business")
    return np.where(has_at, kind, None)
