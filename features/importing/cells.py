"""Cells of an export's chunk, read the one way the engine needs them: any Arrow column as
trimmed text, conditions tested, joined columns borrowed, multi-id cells split, e-mail domains
judged. Pure functions over Arrow arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.importing.mapping import Condition, Join, Spec
from features.importing.tally import Tally

FREE_MAIL = frozenset(
    (
        *("gmail.com", "googlemail.com", "yahoo.com", "yahoo.de", "hotmail.com", "outlook.com"),
        *("live.com", "msn.com", "aol.com", "icloud.com", "me.com", "gmx.de", "gmx.net"),
        *("web.de", "t-online.de", "mail.com", "protonmail.com", "proton.me", "yandex.ru"),
        *("mail.ru", "qq.com", "163.com", "zoho.com"),
    )
)


@dataclass(frozen=True)
class Lookup:
    """A joined table held in memory: its key (as text) -> the row of the taken columns."""

    join: Join
    keys: pd.Index
    columns: dict[str, pa.Array]


def key(value: object) -> str:
    """Source values are matched as trimmed lower-case text (YAML's true is "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def as_text(array: pa.ChunkedArray | pa.Array) -> pa.Array:
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


def present(condition: Condition, chunk: pa.Table) -> str | None:
    """The first of the condition's candidate columns that the chunk has."""
    return next((c for c in condition.columns if c in chunk.column_names), None)


def holds(condition: Condition, chunk: pa.Table) -> np.ndarray:
    """Rows where the condition holds (none when the file lacks its column)."""
    column = present(condition, chunk)
    if column is None:
        return np.zeros(chunk.num_rows, dtype=bool)
    text = as_text(chunk.column(column))
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


def joined(chunk: pa.Table, lookup: Lookup, tally: Tally) -> pa.Table:
    """The chunk with the lookup's columns borrowed by key (``Table.Column``; missing where
    the key matches no row of the joined table)."""
    mine = lookup.join.on[0]
    if mine not in chunk.column_names:
        tally.note(f"{tally.source}.{mine}: not in the file (join to {lookup.join.table})")
        keys = np.full(chunk.num_rows, None, dtype=object)
    else:
        keys = as_text(chunk.column(mine)).to_numpy(zero_copy_only=False)
    positions = lookup.keys.get_indexer(pd.Index(keys, dtype=object))
    found = pa.array(positions >= 0)
    indices = pa.array(np.maximum(positions, 0))
    for name, values in lookup.columns.items():
        taken = values.take(indices) if len(values) else pa.nulls(len(positions), values.type)
        taken = pc.if_else(found, taken, pa.scalar(None, taken.type))
        chunk = chunk.append_column(f"{lookup.join.table}.{name}", taken)
    return chunk


def split_ids(chunk: pa.Table, spec: Spec) -> pa.Table:
    """One row per id of a multi-id cell (``101;102``); an empty cell stays one row, so its
    missing id is counted like any other."""
    if spec.split is None:
        return chunk
    found = [c for c in spec.columns if c in chunk.column_names]
    if not found:
        return chunk
    text = pc.fill_null(as_text(chunk.column(found[0])), "")
    pieces = pc.split_pattern(text, spec.split)
    exploded = chunk.take(pc.list_parent_indices(pieces))
    flat = pc.utf8_trim_whitespace(pc.list_flatten(pieces))
    index = exploded.column_names.index(found[0])
    return exploded.set_column(index, found[0], flat)


def email_domain(raw: np.ndarray) -> np.ndarray:
    """ "free" for a free-mail domain (``FREE_MAIL``), "business" for any other address,
    missing where there is no address."""
    domains = pd.Series(raw, dtype=object).str.rsplit("@", n=1).str[-1].str.strip().str.lower()
    has_at = pd.Series(raw, dtype=object).str.contains("@", regex=False).fillna(False).to_numpy()
    kind = np.where(domains.isin(FREE_MAIL).to_numpy(), "free", "business")
    return np.where(has_at, kind, None)
