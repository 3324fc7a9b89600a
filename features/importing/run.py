"""One import, in order: look the export over (``survey``: tables, required columns, one format
per date column), read the leads, then the stage changes (checked against the leads and made
consistent), measure the leaky fields against the outcome they give, write leads and stage
changes, and stream the touches. Every step counts what it leaves out and the report says it.

This is the only module of the import that orders side effects. Memory holds the leads, the
stage entries (a few numbers each), a sample of the lead table for the leak measures and the
joined tables; activity tables stream through in chunks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from core.errors import InputError
from core.paths import output_folder, writing
from core.progress import Progress, Step, counted
from features.importing.engine import apply_block, source_columns
from features.importing.leaky import leaky_fields
from features.importing.mapping import Block, Mapping
from features.importing.output import (
    TableWriter,
    consistent_stages,
    contract_table,
    coverage,
    described,
    ids_are_numbers,
    write_table,
)
from features.importing.report import ImportReport
from features.importing.sources import open_source
from features.importing.survey import Export
from features.importing.tally import Tally

LEAK_SAMPLE_ROWS = 200_000  # lead rows the leak measures look at (spread over the table)
REPORT_FILE = "import_report.json"
OUTCOME_STAGES = ("sql", "won")  # a lead "converted" for the leak measures: reached either


def import_export(
    source: Path,
    mapping: Mapping,
    out: Path,
    *,
    dates: str | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> ImportReport:
    """Turn the export at ``source`` into ``leads``, ``touches`` and ``stage_changes`` Parquet
    files plus ``import_report.json`` in ``out``. ``dates`` ("dayfirst"/"monthfirst") wins
    over the mapping's. Raises ``InputError`` (one line naming the file, column and problem)
    when the export cannot be imported at all: no leads table, an unreadable file, a lead
    block missing its id or creation time, a date column whose convention is left open."""
    started = time.perf_counter()
    say = progress or (lambda _message: None)
    src = open_source(Path(source))
    try:
        export = Export(src, mapping, say)
        export.locate()
        shown = mapping.origin if mapping.origin.endswith("preset") else mapping.name
        shown = shown if shown == mapping.origin else f"{mapping.name} ({mapping.origin})"
        report = ImportReport(src.description, shown, str(out))
        report.date_formats = export.survey_dates(dates or mapping.dates)
        out = output_folder(out)  # only now: a bad export leaves no empty folder
        _Import(export, report, progress).run(out, seed)
    finally:
        src.close()
    report.seconds = time.perf_counter() - started
    path = Path(out) / REPORT_FILE
    with writing(path):
        path.write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    return report


class _Import:
    """The steps of one import, sharing the export, the report and the leads. Each table is
    read as one counted step of its rows (known from the date survey), for a progress display."""

    def __init__(self, export: Export, report: ImportReport, progress: Progress | None) -> None:
        self.export, self.report, self.progress = export, report, progress
        self.say = progress or (lambda _message: None)

    def _reading(self, block: Block, tally: Tally) -> AbstractContextManager[Step]:
        """Reading a block's table as one counted step of its rows."""
        task = f"reading {block.table} from {block.source}"
        return counted(self.progress, task, self.export.count_rows(tally.found), "rows")

    def run(self, out: Path, seed: int) -> None:
        leads, samples = self.read_leads()
        lead_index = pd.Index(leads["lead_id"].astype(str))
        numeric_ids = ids_are_numbers(leads["lead_id"])
        ids = (leads["lead_id"].astype("int64") if numeric_ids else leads["lead_id"]).to_numpy()
        stages = self.read_stages(lead_index)
        reached = np.zeros(len(leads))
        converted = stages["stage"].isin(OUTCOME_STAGES).to_numpy()
        reached[stages["position"].to_numpy()[converted]] = 1
        for block, tally in self.export.of("leads"):
            self.judge_leaks(block, tally, leads, samples[block.path], reached, seed)

        write_table(contract_table("leads", leads, numeric_ids), out / "leads.parquet")
        created = leads["created_at"].to_numpy(dtype="datetime64[ns]")
        self.report.tables["leads"] = described(len(leads), created.min(), created.max())
        stages["lead_id"] = ids[stages["position"].to_numpy()]
        write_table(
            contract_table("stage_changes", stages, numeric_ids), out / "stage_changes.parquet"
        )
        times = stages["changed_at"].to_numpy(dtype="datetime64[ns]")
        span = (times.min(), times.max()) if len(times) else (None, None)
        self.report.tables["stage_changes"] = described(len(stages), *span)

        writer = TableWriter("touches", out / "touches.parquet", numeric_ids, "occurred_at")
        for block, tally in self.export.of("touches"):
            for frame in self.stream(block, tally, lead_index):
                writer.add(frame.assign(lead_id=ids[frame["position"].to_numpy()]))
        self.report.tables["touches"] = writer.close()
        self.report.blocks = self.export.tallies
        self.report.notes += self.export.notes

    def read_leads(self) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
        """Every leads block read whole (and a spread sample of its table's raw columns for
        the leak measures); a lead id seen twice keeps its first row."""
        frames, samples = [], {}
        blocks = self.export.of("leads")
        for block, tally in blocks:
            lookups = self.export.lookups(block)
            every = max(1, -(-self.export.rows.get(tally.found, 0) // LEAK_SAMPLE_ROWS))
            start, parts, sampled = 0, [], []
            chunks = self.export.src.chunks(tally.found, self.export.columns[tally.found])
            with self._reading(block, tally) as step:
                for chunk in chunks:
                    frame = apply_block(block, chunk, start, tally, self.export.formats, lookups)
                    parts.append(frame.assign(__block__=block.path))
                    pick = np.flatnonzero(np.arange(start, start + chunk.num_rows) % every == 0)
                    sample = chunk.take(pa.array(pick)).to_pandas()
                    sampled.append(sample.assign(__row__=pick + start))
                    start += chunk.num_rows
                    step(start)
            frames.append(pd.concat(parts, ignore_index=True))
            samples[block.path] = pd.concat(sampled, ignore_index=True)
            self._unused(block, tally)
        leads = pd.concat(frames, ignore_index=True)
        repeated = leads["lead_id"].duplicated().to_numpy()
        if repeated.any():
            first = int(np.flatnonzero(repeated)[0])
            tally = next(t for b, t in blocks if b.path == leads["__block__"].iloc[first])
            example = f"row {leads['__row__'].iloc[first]}: {leads['lead_id'].iloc[first]!r}"
            tally.skip("repeated lead_id (first row kept)", int(repeated.sum()), example)
            leads = leads[~repeated].reset_index(drop=True)
        for block, tally in blocks:
            tally.rows_out = int((leads["__block__"] == block.path).sum())
        if leads.empty:
            raise InputError(
                f"{self.export.src.description}: no lead could be imported; the report's "
                "reasons are in the leads block's skips"
                + "".join(f" ({r}: {n[0]:,})" for _, t in blocks for r, n in t.skipped.items())
            )
        self.say(f"{len(leads):,} leads")
        return leads, samples

    def _unused(self, block: Block, tally: Tally) -> None:
        """The lead table's columns no block of the mapping reads (for the report)."""
        read = set().union(
            *(source_columns(b) for b in self.export.mapping.blocks if b.source == block.source)
        )
        columns = self.export.columns[tally.found]
        self.report.unused[block.source] = [
            c for c in columns if c not in read and c not in block.leaky
        ]

    def stream(self, block: Block, tally: Tally, lead_index: pd.Index) -> Iterator[pd.DataFrame]:
        """The block's contract rows chunk by chunk, with each row's lead position; rows
        whose lead is not among the leads are skipped and counted."""
        lookups = self.export.lookups(block)
        ids = ", ".join(block.columns["lead_id"].columns)
        start = 0
        chunks = self.export.src.chunks(tally.found, self.export.columns[tally.found])
        with self._reading(block, tally) as step:
            for chunk in chunks:
                frame = apply_block(block, chunk, start, tally, self.export.formats, lookups)
                start += chunk.num_rows
                position = lead_index.get_indexer(frame["lead_id"].astype(str))
                unknown = position < 0
                if unknown.any():
                    first = int(np.flatnonzero(unknown)[0])
                    row, lead = frame["__row__"].iloc[first], frame["lead_id"].iloc[first]
                    tally.skip(
                        f"lead_id not in leads ({block.source}.{ids})",
                        int(unknown.sum()),
                        f"row {row}: {lead!r}",
                    )
                frame = frame[~unknown].assign(position=position[~unknown])
                tally.rows_out += len(frame)
                step(start)
                yield frame

    def read_stages(self, lead_index: pd.Index) -> pd.DataFrame:
        """Every stage entry of known leads, consistent per lead (``consistent_stages``)."""
        parts = []
        for number, (block, tally) in enumerate(self.export.of("stage_changes")):
            for frame in self.stream(block, tally, lead_index):
                parts.append(frame[["position", "stage", "changed_at"]].assign(__block__=number))
        columns = {"position": "int64", "stage": "object", "changed_at": "datetime64[ns]"}
        stages = (
            pd.concat(parts, ignore_index=True)
            if parts
            else pd.DataFrame(
                {
                    name: pd.Series([], dtype=dtype)
                    for name, dtype in (columns | {"__block__": "int64"}).items()
                }
            )
        )
        keep, fixes = consistent_stages(
            stages["position"].to_numpy(),
            stages["stage"].to_numpy(),
            stages["changed_at"].to_numpy(dtype="datetime64[ns]"),
        )
        self.report.stage_fixes = dict(fixes)
        for number, (_, tally) in enumerate(self.export.of("stage_changes")):
            tally.rows_out = int((keep & (stages["__block__"] == number).to_numpy()).sum())
        stages = stages[keep][list(columns)].reset_index(drop=True)
        self.report.stages = coverage(stages["position"].to_numpy(), stages["stage"].to_numpy())
        return stages

    def judge_leaks(
        self,
        block: Block,
        tally: Tally,
        leads: pd.DataFrame,
        sample: pd.DataFrame,
        reached: np.ndarray,
        seed: int,
    ) -> None:
        """The block's leaky fields into the report; measured leaks that feed a lead
        attribute are emptied in ``leads`` (in place: it is this import's own frame)."""
        found = set(self.export.columns[tally.found])
        used = {c: name for name, spec in block.columns.items() for c in spec.columns if c in found}
        events = set().union(
            *(
                source_columns(b)
                for b in self.export.mapping.blocks
                if b.source == block.source and b.table != "leads"
            )
        )
        mine = (leads["__block__"] == block.path).to_numpy()
        rows = pd.Index(leads.loc[mine, "__row__"].to_numpy())
        where = rows.get_indexer(sample["__row__"].to_numpy())
        positions = np.flatnonzero(mine)
        outcome = np.where(where >= 0, reached[positions[np.maximum(where, 0)]], np.nan)
        raw = sample.drop(columns="__row__")
        fields, notes = leaky_fields(block, raw, outcome, used, events - set(used), seed)
        self.report.leaky += fields
        self.report.notes += notes
        for field in fields:
            if field.action == "emptied" and field.feeds:
                leads.loc[mine, field.feeds] = None
