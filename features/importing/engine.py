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

import numpy as np
import pandas as pd
import pyarrow as pa

from core.dates import DateFormat
from features.importing.cells import Lookup, holds, joined, present, split_ids
from features.importing.mapping import Block
from features.importing.rows import ROW, ChunkRows, contract_column
from features.importing.tally import Tally


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
        s
        for name, s in block.columns.items()
        if contract_column(block.table, name).kind == "timestamp"
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
    chunk = chunk.append_column(ROW, pa.array(np.arange(first_row, first_row + chunk.num_rows)))
    for lookup in lookups:
        chunk = joined(chunk, lookup, tally)
    keep = np.ones(chunk.num_rows, dtype=bool)
    for condition in block.where:
        if present(condition, chunk) is None:
            tally.note(f"where: {' or '.join(condition.columns)} not in the file: not tested")
            continue
        keep &= holds(condition, chunk)
    if not keep.all():
        tally.left_out[f"not selected (where {block.where_text})"] += int((~keep).sum())
        chunk = chunk.filter(pa.array(keep))
    chunk = split_ids(chunk, block.columns["lead_id"])
    rows = ChunkRows(block, chunk, tally, formats)
    if block.stages:
        return rows.stage_entries()
    out = {"lead_id": rows.ids()}
    if block.table == "touches" and block.kinds:
        out |= rows.kinds()
    for name, spec in block.columns.items():
        if name not in out:
            out[name] = rows.typed(contract_column(block.table, name), spec)
    out[ROW] = rows.rows
    return pd.DataFrame(out)[~rows.dropped & ~rows.left].reset_index(drop=True)
