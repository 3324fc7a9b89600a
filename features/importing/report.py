"""The import report: what came in, what went out, what was skipped and why, which format
each date column was read with, how far the stages reach, and which fields would leak the
outcome. Written as ``import_report.json`` beside the tables and printed as text."""

from __future__ import annotations

from dataclasses import dataclass, field

from features.importing.tally import Tally

SHOWN_REASONS = 8  # per block in the text; the JSON has them all


@dataclass(frozen=True)
class LeakyField:
    """A source field that must not be a feature, or is one at risk.

    Attributes:
        table, column: where it is (``Lead.IsConverted``).
        why: the mapping's reason, or the measured evidence.
        source: "mapping" (named by it), "measured" (behaves like the outcome) or
            "current value" (a mapped lead field known only as its value at export time).
        feeds: the contract column it would feed, if any.
        action: what the import did ("not used", "emptied", "used: leak risk", "kept").
    """

    table: str
    column: str
    why: str
    source: str
    feeds: str | None = None
    action: str = "not used"

    def line(self) -> str:
        feeds = f" -> {self.feeds}" if self.feeds else ""
        return f"{self.table}.{self.column}{feeds} [{self.action}]: {self.why}"


@dataclass
class ImportReport:
    """Attributes:
    source: the export's folder or DuckDB file; mapping: the preset's name or the file.
    out: the folder written; tables: contract table -> rows written and time range.
    date_formats: ``Table.Column`` -> the one format it was read with.
    blocks: every block's tally (rows in, out, left out, skipped, set to missing).
    stages: stage -> leads that entered it; stage_fixes: reason -> stage entries dropped.
    leaky: fields named or measured as leaky, and current-value fields used as features.
    unused: source table of leads -> its columns the mapping does not use.
    notes: anything else (tables the export lacks, a measure that could not be made).
    seconds: wall time.
    """

    source: str
    mapping: str
    out: str
    tables: dict[str, dict] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)
    blocks: list[Tally] = field(default_factory=list)
    stages: dict[str, int] = field(default_factory=dict)
    stage_fixes: dict[str, int] = field(default_factory=dict)
    leaky: list[LeakyField] = field(default_factory=list)
    unused: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "mapping": self.mapping,
            "out": self.out,
            "tables": self.tables,
            "date_formats": self.date_formats,
            "blocks": [b.to_dict() for b in self.blocks],
            "stage_coverage": self.stages,
            "stage_fixes": self.stage_fixes,
            "leaky_fields": [vars(x) for x in self.leaky],
            "unused_columns": self.unused,
            "notes": self.notes,
            "seconds": round(self.seconds, 2),
        }

    def text(self) -> str:
        """The report as a reader wants it first: totals, then problems, then leaks."""
        lines = [f"import of {self.source} with mapping {self.mapping} -> {self.out}"]
        for table, info in self.tables.items():
            span = f", {info['first']} .. {info['last']}" if info.get("first") else ""
            lines.append(f"  {table}: {info['rows']:,} rows{span}")
        lines.append("dates (one format per column):")
        lines += [f"  {name}: {fmt}" for name, fmt in self.date_formats.items()]
        lines.append("stage coverage (leads that entered each stage):")
        lines.append("  " + ", ".join(f"{s} {n:,}" for s, n in self.stages.items()))
        lines += [f"  {n:,} stage entries dropped: {r}" for r, n in self.stage_fixes.items()]
        lines.append("sources (rows in -> rows out):")
        for tally in self.blocks:
            where = tally.found or "not in the export"
            lines.append(
                f"  {tally.table} from {tally.source} ({where}): "
                f"{tally.rows_in:,} -> {tally.rows_out:,}"
            )
            for reason, rows in list(tally.left_out.items())[:SHOWN_REASONS]:
                lines.append(f"    left out {rows:,}: {reason}")
            for reason, (rows, example) in list(tally.skipped.items())[:SHOWN_REASONS]:
                lines.append(f"    skipped {rows:,}: {reason} (e.g. {example})")
            for reason, (rows, example) in list(tally.set_missing.items())[:SHOWN_REASONS]:
                lines.append(f"    {rows:,} values: {reason} (e.g. {example})")
            lines += [f"    note: {note}" for note in tally.notes]
        lines.append("leaky fields (kept out of features) and leak risks:")
        lines += [f"  {x.line()}" for x in self.leaky] or ["  none found"]
        for table, columns in ((t, c) for t, c in self.unused.items() if c):
            shown = ", ".join(columns[:20]) + (" ..." if len(columns) > 20 else "")
            lines.append(f"unused columns of {table} ({len(columns)}): {shown}")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)
