"""What happened to a block's rows: how many came in, were left out by design, were skipped
(and why, with a count and the first example), and which attribute values were set to missing.
Nothing a block reads disappears without a line here."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

MAX_VALUES = 25  # source values listed per mapped column in the report


@dataclass
class Tally:
    """Counts of one block (see the module docstring).

    Attributes:
        table, source, path: the contract table, the source table and the block's place in the
            mapping file.
        found: where the source table was found (None when the export lacks it).
        rows_in: source rows read.
        rows_out: contract rows written (several per row for ``stages``, split ids).
        left_out: reason -> rows left out by design (``where``, values mapped to nothing).
        skipped: reason -> [rows, first example] of rows that could not be used.
        set_missing: reason -> [rows, first example] of attribute values set to missing.
        values: contract column -> source value -> rows (the value maps as used).
        notes: anything else worth a line (a column the file lacks, a default used).
    """

    table: str
    source: str
    path: str
    found: str | None = None
    rows_in: int = 0
    rows_out: int = 0
    left_out: Counter = field(default_factory=Counter)
    skipped: dict[str, list] = field(default_factory=dict)
    set_missing: dict[str, list] = field(default_factory=dict)
    values: dict[str, Counter] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def skip(self, reason: str, rows: int, example: str) -> None:
        """Count rows that could not be used, keeping the first example."""
        _count(self.skipped, reason, rows, example)

    def missing(self, reason: str, rows: int, example: str) -> None:
        """Count attribute values set to missing (their rows are kept)."""
        _count(self.set_missing, reason, rows, example)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def seen(self, column: str, values: Counter) -> None:
        self.values.setdefault(column, Counter()).update(values)

    def to_dict(self) -> dict:
        top = {
            column: dict(counts.most_common(MAX_VALUES)) for column, counts in self.values.items()
        }
        return {
            "table": self.table,
            "from": self.source,
            "mapping": self.path,
            "file": self.found,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "left_out": dict(self.left_out),
            "skipped": {k: {"rows": v[0], "example": v[1]} for k, v in self.skipped.items()},
            "set_to_missing": {
                k: {"rows": v[0], "example": v[1]} for k, v in self.set_missing.items()
            },
            "values": top,
            "notes": self.notes,
        }


def _count(into: dict[str, list], reason: str, rows: int, example: str) -> None:
    if rows:
        into.setdefault(reason, [0, example])[0] += int(rows)
