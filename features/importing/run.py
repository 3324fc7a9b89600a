"""One import, in order: find the export's tables, survey their dates (one format per column),
read the leads, then the stage changes (checked against the leads, made consistent), measure
the leaky fields against the outcome they give, write leads and stage changes, and stream the
touches. Every step counts what it leaves out (``Tally``) and the report says it all.

This is the only module of the import that orders side effects; memory holds the leads, the
stage entries (a few small integers each) and the joined tables, never the activity tables,
which stream through in chunks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from core.contract import TIME_COLUMN
from core.dates import DateFormat, DateSurvey, agreed_convention, decide
from core.errors import InputError
from core.paths import output_folder, writing
from features.importing.engine import Lookup, apply_block, date_columns, source_columns
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
from features.importing.sources import Source, open_source
from features.importing.tally import Tally

Progress = Callable[[str], None]
LEAK_SAMPLE_ROWS = 200_000
REPORT_FILE = "import_report.json"


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
    src = open_source(source)
    try:
        job = _Import(src, mapping, say)
        report = job.run(output_folder(out), dates or mapping.dates, seed)
    finally:
        src.close()
    report.seconds = time.perf_counter() - started
    with writing(Path(out) / REPORT_FILE):
        (Path(out) / REPORT_FILE).write_text(json.dumps(report.to_dict(), indent=2, default=str))
    return report


class _Import:
    """The state of one import between its steps."""

    def __init__(self, src: Source, mapping: Mapping, say: Progress) -> None:
        self.src, self.mapping, self.say = src, mapping, say
        self.tallies = [Tally(b.table, b.source, b.path) for b in mapping.blocks]
        self.columns: dict[str, list[str]] = {}
        self.rows: dict[str, int] = {}
        self.report = ImportReport(src.description, f"{mapping.name} ({mapping.origin})", "")

    # -- finding the tables ----------------------------------------------------------------
    def locate(self) -> list[tuple[Block, Tally]]:
        usable = []
        for block, tally in zip(self.mapping.blocks, self.tallies, strict=True):
            tally.found = self.src.find(block.source, self.mapping.files.get(block.source, ()))
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
                usable.append((block, tally))
        return usable

    def _has_required(self, block: Block, tally: Tally) -> bool:
        found = self.columns[tally.found]
        names = ["lead_id", TIME_COLUMN[block.table]] if not block.stages else ["lead_id"]
        if block.table == "stage_changes" and not block.stages:
            names.append("stage")
        for name in names:
            spec = block.columns.get(name)
            joined = [c for c in spec.columns if "." in c] if spec else []
            if spec is None or not spec.columns or joined or set(spec.columns) & set(found):
                continue
            problem = (
                f"required column missing: {block.table}.{name} needs one of "
                f"{', '.join(spec.columns)}"
            )
            shown = ", ".join(found[:10]) + (" ..." if len(found) > 10 else "")
            if block.table == "leads":
                raise InputError(f"{tally.found}: {problem} (columns found: {shown})")
            rows = self._count_rows(tally.found)
            tally.rows_in = rows
            tally.skip(problem, rows, f"columns found: {shown}")
            return False
        return True

    def _count_rows(self, where: str) -> int:
        if where not in self.rows:
            first = self.columns[where][:1]
            self.rows[where] = sum(c.num_rows for c in self.src.chunks(where, first))
        return self.rows[where]

    # -- dates -----------------------------------------------------------------------------
    def date_formats(self, usable: list[tuple[Block, Tally]], convention: str | None):
        wanted: dict[str, set[str]] = {}
        names: dict[str, str] = {}
        for block, tally in usable:
            present = date_columns(block) & set(self.columns[tally.found])
            wanted.setdefault(tally.found, set()).update(present)
            names[tally.found] = block.source
        surveys: dict[str, DateSurvey] = {}
        formats: dict[str, DateFormat] = {}
        for where, columns in wanted.items():
            self.say(f"surveying dates of {names[where]}...")
            rows = 0
            for chunk in self.src.chunks(where, sorted(columns) or self.columns[where][:1]):
                rows += chunk.num_rows
                for name in sorted(columns):
                    key = f"{names[where]}.{name}"
                    array = chunk.column(name)
                    if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
                        formats[key] = DateFormat("typed")
                    else:
                        surveys.setdefault(key, DateSurvey()).add(array)
            self.rows[where] = rows
        fallback = agreed_convention(surveys.values())
        for key, survey in surveys.items():
            formats[key] = decide(survey, key, convention, fallback)
        self.report.date_formats = {k: formats[k].describe() for k in sorted(formats)}
        return formats

    # -- joins -----------------------------------------------------------------------------
    def lookups(self, block: Block) -> list[Lookup]:
        out = []
        for join in block.joins:
            where = self.src.find(join.table, self.mapping.files.get(join.table, ()))
            if where is None:
                self.report.notes.append(f"{block.path}: no {join.table} table to join")
                continue
            found = set(self.src.columns(where))
            wanted = [c for c in (join.on[1], *join.take) if c in found]
            if join.on[1] not in found:
                self.report.notes.append(f"{block.path}: {join.table} has no {join.on[1]}")
                continue
            table = self.src.read(where, wanted)
            keys = _text(table.column(join.on[1]))
            first = ~pd.Index(keys).duplicated() & ~pd.isna(keys)
            repeated = int((~first & ~pd.isna(keys)).sum())
            if repeated:
                self.report.notes.append(
                    f"{join.table}: {repeated:,} rows repeat a {join.on[1]}; the first is joined"
                )
            columns = {c: _arrow_text(table.column(c)).filter(pa.array(first)) for c in wanted[1:]}
            out.append(Lookup(join, pd.Index(keys[first]), columns))
        return out

    # -- the steps -------------------------------------------------------------------------
    def run(self, out: Path, convention: str | None, seed: int) -> ImportReport:
        self.report.out = str(out)
        usable = self.locate()
        formats = self.date_formats(usable, convention)
        leads_blocks = [(b, t) for b, t in usable if b.table == "leads"]
        leads, samples = self.read_leads(leads_blocks, formats)
        lead_index = pd.Index(leads["lead_id"].astype(str))
        numeric_ids = ids_are_numbers(leads["lead_id"])
        typed_ids = leads["lead_id"].astype("int64") if numeric_ids else leads["lead_id"]

        stages = self.read_stages(
            [(b, t) for b, t in usable if b.table == "stage_changes"], formats, lead_index
        )
        reached = np.zeros(len(leads))
        won_or_sql = stages["stage"].isin(["sql", "won"]).to_numpy()
        reached[stages["position"].to_numpy()[won_or_sql]] = 1
        for block, tally in leads_blocks:
            self.judge_leaks(block, tally, leads, samples.get(block.path), reached, seed)
        write_table(contract_table("leads", leads, numeric_ids), out / "leads.parquet")
        created = leads["created_at"].to_numpy(dtype="datetime64[ns]")
        self.report.tables["leads"] = described(len(leads), created.min(), created.max())
        stages = stages.assign(lead_id=typed_ids.to_numpy()[stages["position"].to_numpy()])
        write_table(
            contract_table("stage_changes", stages, numeric_ids), out / "stage_changes.parquet"
        )
        times = stages["changed_at"].to_numpy(dtype="datetime64[ns]")
        self.report.tables["stage_changes"] = described(
            len(stages), times.min() if len(times) else None, times.max() if len(times) else None
        )

        writer = TableWriter("touches", out / "touches.parquet", numeric_ids, "occurred_at")
        for block, tally in usable:
            if block.table == "touches":
                for frame in self.stream(block, tally, formats, lead_index):
                    writer.add(
                        frame.assign(lead_id=typed_ids.to_numpy()[frame["position"].to_numpy()])
                    )
        self.report.tables["touches"] = writer.close()
        self.report.blocks = self.tallies
        return self.report

    def read_leads(self, blocks, formats):
        frames, samples = [], {}
        for block, tally in blocks:
            self.say(f"reading leads from {block.source}...")
            lookups = self.lookups(block)
            every = max(1, -(-self.rows.get(tally.found, 0) // LEAK_SAMPLE_ROWS))
            start, parts, sampled = 0, [], []
            for chunk in self.src.chunks(tally.found, self.columns[tally.found]):
                frame = apply_block(block, chunk, start, tally, formats, lookups)
                parts.append(frame.assign(__block__=block.path))
                pick = np.flatnonzero((np.arange(start, start + chunk.num_rows) % every) == 0)
                sample = chunk.take(pa.array(pick)).to_pandas()
                sampled.append(sample.assign(__row__=pick + start))
                start += chunk.num_rows
            frame = pd.concat(parts, ignore_index=True)
            tally.rows_out = len(frame)
            frames.append(frame)
            samples[block.path] = pd.concat(sampled, ignore_index=True)
            self.report.unused[block.source] = [
                c
                for c in self.columns[tally.found]
                if c not in source_columns(block) and c not in block.leaky
            ]
        leads = pd.concat(frames, ignore_index=True)
        repeated = leads["lead_id"].duplicated().to_numpy()
        if repeated.any():
            tally = next(t for b, t in blocks if b.path == leads.loc[repeated, "__block__"].iloc[0])
            example = f"lead {leads.loc[repeated, 'lead_id'].iloc[0]!r}"
            tally.skip("repeated lead_id (first row kept)", int(repeated.sum()), example)
            leads = leads[~repeated].reset_index(drop=True)
            for block, tally in blocks:
                tally.rows_out = int((leads["__block__"] == block.path).sum())
        if leads.empty:
            raise InputError(
                f"{self.src.description}: no lead could be imported (see the leads source's columns and values)"
            )
        self.say(f"{len(leads):,} leads")
        return leads, samples

    def stream(self, block: Block, tally: Tally, formats, lead_index: pd.Index):
        """The block's contract rows chunk by chunk, with each row's lead position; rows
        whose lead is not among the leads are skipped and counted."""
        self.say(f"reading {block.table} from {block.source}...")
        lookups = self.lookups(block)
        start = 0
        for chunk in self.src.chunks(tally.found, self.columns[tally.found]):
            frame = apply_block(block, chunk, start, tally, formats, lookups)
            start += chunk.num_rows
            position = lead_index.get_indexer(frame["lead_id"].astype(str))
            unknown = position < 0
            if unknown.any():
                first = int(np.flatnonzero(unknown)[0])
                example = f"row {frame['__row__'].iloc[first]}: {frame['lead_id'].iloc[first]!r}"
                spec = block.columns["lead_id"]
                tally.skip(
                    f"lead_id not in leads ({block.source}.{', '.join(spec.columns)})",
                    int(unknown.sum()),
                    example,
                )
            frame = frame[~unknown].assign(position=position[~unknown])
            tally.rows_out += len(frame)
            if start and start % (5 * chunk.num_rows or 1) == 0:
                self.say(f"  {block.source}: {start:,} rows read")
            yield frame

    def read_stages(self, blocks, formats, lead_index: pd.Index) -> pd.DataFrame:
        parts = []
        for block, tally in blocks:
            for frame in self.stream(block, tally, formats, lead_index):
                parts.append(frame[["position", "stage", "changed_at"]].assign(__tally__=id(tally)))
        if not parts:
            self.report.stages = coverage(np.array([], dtype=np.int64), np.array([], dtype=object))
            return pd.DataFrame(
                {
                    "position": pd.Series([], dtype=np.int64),
                    "stage": pd.Series([], dtype=object),
                    "changed_at": pd.Series([], dtype="datetime64[ns]"),
                }
            )
        stages = pd.concat(parts, ignore_index=True)
        keep, fixes = consistent_stages(
            stages["position"].to_numpy(),
            stages["stage"].to_numpy(),
            stages["changed_at"].to_numpy(dtype="datetime64[ns]"),
        )
        self.report.stage_fixes = dict(fixes)
        for tally in self.tallies:
            mine = (stages["__tally__"] == id(tally)).to_numpy()
            if mine.any():
                tally.rows_out = int((mine & keep).sum())
        stages = stages[keep].drop(columns="__tally__").reset_index(drop=True)
        self.report.stages = coverage(stages["position"].to_numpy(), stages["stage"].to_numpy())
        return stages

    def judge_leaks(self, block, tally, leads, sample, reached, seed) -> None:
        found = set(self.columns[tally.found])
        used = {c: name for name, spec in block.columns.items() for c in spec.columns if c in found}
        mine = (leads["__block__"] == block.path).to_numpy()
        rows = pd.Index(leads.loc[mine, "__row__"].to_numpy())
        where = rows.get_indexer(sample["__row__"].to_numpy())
        positions = np.flatnonzero(mine)
        outcome = np.where(where >= 0, reached[positions[np.maximum(where, 0)]], np.nan)
        fields, notes = leaky_fields(block, sample.drop(columns="__row__"), outcome, used, seed)
        self.report.leaky += fields
        self.report.notes += notes
        for field in fields:
            if field.action == "emptied" and field.feeds:
                leads.loc[mine, field.feeds] = None


def _text(array: pa.ChunkedArray) -> np.ndarray:
    return _arrow_text(array).to_numpy(zero_copy_only=False).astype(object)


def _arrow_text(array: pa.ChunkedArray) -> pa.Array:
    from features.importing.engine import _as_text

    return _as_text(array)
