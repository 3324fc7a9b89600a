"""One prepared chunk of a block, column by column: each contract column made from its spec
and typed, with every row that cannot be used skipped (counted, with an example) and every row
the mapping leaves out marked, so ``features.importing.engine`` keeps only the rest."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.contract import TABLES, Column
from core.dates import DateFormat, parse_dates
from features.importing.cells import as_text, email_domain, holds, key
from features.importing.mapping import Block, Spec
from features.importing.tally import Tally

_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
ROW = "__row__"


def contract_column(table: str, name: str) -> Column:
    return next(c for c in TABLES[table] if c.name == name)


class ChunkRows:
    """One prepared chunk of a block: makes its contract columns, marking the rows that are
    skipped (``dropped``, counted as problems) or left out by the mapping (``left``)."""

    def __init__(
        self, block: Block, chunk: pa.Table, tally: Tally, formats: dict[str, DateFormat]
    ) -> None:
        self.block, self.chunk, self.tally, self.formats = block, chunk, tally, formats
        self.n = chunk.num_rows
        self.dropped = np.zeros(self.n, dtype=bool)
        self.left = np.zeros(self.n, dtype=bool)
        self.rows = chunk.column(ROW).to_numpy()

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
        """Lead ids as text; a row without one is skipped. When the id is borrowed from a
        joined table, the reason names the join and the example shows the key that matched
        nothing (an opportunity no lead was converted to)."""
        spec = self.block.columns["lead_id"]
        values = self.text(spec)
        missing = pd.isna(values)
        borrowed = [
            j for j in self.block.joins if any(c.startswith(f"{j.table}.") for c in spec.columns)
        ]
        if borrowed and missing.any():
            join = borrowed[0]
            keys = self.text(Spec(columns=(join.on[0],)))
            reason = f"{join.on[0]} matches no {join.table}.{join.on[1]} ({self.block.source})"
            self.drop(reason, missing & ~pd.isna(keys), keys)
        self.drop(f"missing lead_id ({self.where(spec)})", missing, values)
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
        arrays = [as_text(self.chunk.column(c)) for c in present]
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
            return email_domain(raw)
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
        keys = pd.Series(raw, dtype=object).map(lambda v: None if v is None else key(v))
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
        keys = pd.Series(values, dtype=object).map(lambda v: None if v is None else key(v))
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
        present = [c for c in spec.columns if c in self.chunk.column_names]
        if not present:
            self.tally.note(f"{self.where(spec)}: not in the file")
        for name in present:
            array = self.chunk.column(name)
            fmt = self.formats.get(f"{self.block.source}.{name}", DateFormat("iso"))
            parsed = parse_dates(array, fmt)
            text = as_text(array).to_numpy(zero_copy_only=False).astype(object)
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
                hit &= holds(condition, self.chunk)
            for name, value in case.set.items():
                out[name] = np.where(hit, value, out[name])
            open_rows &= ~hit
        if (open_rows & ~self.dropped).any():
            tested = sorted({n for case in self.block.kinds for c in case.when for n in c.columns})
            first = int(np.flatnonzero(open_rows & ~self.dropped)[0])
            one = self.chunk.slice(first, 1)
            shown = np.full(self.n, None, dtype=object)
            shown[first] = ", ".join(
                f"{c}={as_text(one.column(c))[0].as_py()!r}"
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
        changed_at = contract_column("stage_changes", "changed_at")
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
                        ROW: self.rows[entered],
                    }
                )
            )
        if not frames:
            return pd.DataFrame(columns=["lead_id", "stage", "changed_at", ROW])
        return pd.concat(frames, ignore_index=True)
