"""Pure checks of the three lead-history tables against ``features.contract``.

``validate_history`` coerces raw frames (from CSV, Parquet or a CRM export) to the contract's
dtypes and sorts problems into two kinds. Fatal ones (a missing column, an empty or duplicated
leads table, a column that is mostly unreadable, lead ids that cannot match) raise
``DataContractError``: the input is probably the wrong file. Everything else is set aside with a
stable reason and an exact count, so a run on a messy CRM export still goes ahead and says what
it left out. Each row is counted once, under the first reason that applies, in the order the
checks run below. Lead and touch attributes that are merely wrong (an unknown industry, a
negative company size) are set to missing and reported; their row is kept.

Everything is vectorised (1M leads and 25M touches take seconds); inputs are never mutated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.contract import (
    STAGE_RANK,
    STAGES,
    TABLES,
    TIME_COLUMN,
    Column,
    as_ns,
    dtype_of,
    naive_utc,
)
from features.history import LeadHistory, SetAside
from leadscore.errors import DataContractError

N_EXAMPLES = 5
_NAT = np.iinfo(np.int64).min  # NaT of datetime64[ns] viewed as int64
_NUMBER_KINDS = ("integer", "floating", "mixed-integer-float")
_BOOLEANS = dict.fromkeys(("true", "t", "yes", "y", "1", "1.0"), True) | dict.fromkeys(
    ("false", "f", "no", "n", "0", "0.0"), False
)


class Reason:
    """The set-aside reason texts, kept together so reports, manifests and tests agree."""

    MISSING_ID = "missing or unreadable lead_id"
    NOT_IN_LEADS = "lead_id not in leads"
    LEAD_SET_ASIDE = "its lead was set aside"
    REPEATED_STAGE = "repeated stage entry (earliest kept)"
    IMPOSSIBLE_ORDER = "impossible stage order"

    @staticmethod
    def missing(column: str) -> str:
        return f"missing {column}"

    @staticmethod
    def unreadable(column: str) -> str:
        return f"unreadable {column}"

    @staticmethod
    def unknown(column: str) -> str:
        return f"unknown {column} value"

    @staticmethod
    def in_future(column: str) -> str:
        return f"{column} in the future"

    @staticmethod
    def before_created(column: str) -> str:
        return f"{column} before the lead's created_at"

    @staticmethod
    def set_to_missing(problem: str, column: str) -> str:
        """A value-level fix (problem: unknown, unreadable, negative): the row itself is kept."""
        return f"{problem} {column} set to missing (row kept)"


@dataclass
class _Table:
    """One table being validated: coerced columns and a reason code per input row (0 = kept)."""

    name: str
    columns: dict[str, pd.Series]
    code: np.ndarray
    reasons: list[str] = field(default_factory=list)
    fixes: dict[str, np.ndarray] = field(default_factory=dict)

    def set_aside(self, mask: np.ndarray, reason: str) -> None:
        """Give ``reason`` to the rows in ``mask`` that no earlier check has set aside."""
        hit = mask & (self.code == 0)
        if hit.any():
            if reason not in self.reasons:
                self.reasons.append(reason)
            self.code[hit] = self.reasons.index(reason) + 1

    def kept(self) -> np.ndarray:
        return self.code == 0


def validate_history(
    leads: pd.DataFrame,
    touches: pd.DataFrame,
    stage_changes: pd.DataFrame,
    *,
    now: pd.Timestamp | None = None,
) -> tuple[LeadHistory, list[SetAside]]:
    """Contract-typed lead history plus the rows set aside, with reasons and exact counts.

    ``now`` (UTC if tz-naive; default: the current time) bounds event times: later rows are set
    aside. Extra columns are ignored; absent optional columns come back all-missing. Ids may be
    integers or text; when the tables disagree they are compared as text. Examples name the
    ``lead_id`` for leads and ``row N (lead X)`` (0-based input position) for events.
    """
    now_ns = (
        naive_utc(pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now))
        .as_unit("ns")
        .value
    )
    raw = {"leads": leads, "touches": touches, "stage_changes": stage_changes}
    for name, frame in raw.items():
        for column in TABLES[name]:
            if column.required and column.name not in frame.columns:
                found = ", ".join(map(str, frame.columns[:12])) or "none"
                problem = f"required column is missing (columns found: {found})"
                raise DataContractError(name, column.name, problem)
    if len(leads) == 0:
        raise DataContractError("leads", None, "the table has no rows")

    ids, kinds = _harmonised_ids(raw)
    tables = {name: _coerce(name, frame, ids[name]) for name, frame in raw.items()}
    lead_table = tables["leads"]
    lead_ids = lead_table.columns["lead_id"]
    duplicated = (lead_ids.duplicated(keep=False) & lead_ids.notna()).to_numpy()
    if duplicated.any():
        examples = pd.unique(lead_ids[duplicated].astype(str))[:N_EXAMPLES]
        problem = f"{int(duplicated.sum()):,} rows share a lead_id; each lead needs one row"
        raise DataContractError("leads", "lead_id", problem, list(examples))

    created = as_ns(lead_table.columns["created_at"])
    lead_table.set_aside(created > now_ns, Reason.in_future("created_at"))
    lead_ok = np.append(lead_table.kept(), False)  # position -1 (no such lead) reads False
    created = np.append(created, _NAT)
    positions = {}
    for name in ("touches", "stage_changes"):
        table, time_column = tables[name], TIME_COLUMN[name]
        pos = _lead_positions(lead_ids, table.columns["lead_id"])
        _stop_if_ids_cannot_match(name, kinds, table.columns["lead_id"], pos)
        event_ns = as_ns(table.columns[time_column])
        table.set_aside(pos < 0, Reason.NOT_IN_LEADS)
        table.set_aside(~lead_ok[pos], Reason.LEAD_SET_ASIDE)
        table.set_aside(event_ns > now_ns, Reason.in_future(time_column))
        table.set_aside(event_ns < created[pos], Reason.before_created(time_column))
        positions[name] = pos

    stages = tables["stage_changes"]
    _set_aside_repeated_stages(stages, positions["stage_changes"])
    bad_lead = _impossible_stage_orders(stages, positions["stage_changes"], len(lead_ids))
    lead_table.set_aside(bad_lead[:-1], Reason.IMPOSSIBLE_ORDER)
    for name in ("touches", "stage_changes"):
        tables[name].set_aside(bad_lead[positions[name]], Reason.IMPOSSIBLE_ORDER)

    history = LeadHistory(*(_kept_frame(tables[name]) for name in raw))
    return history, [item for name in raw for item in _report(tables[name])]


def _harmonised_ids(raw: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.Series], dict]:
    """lead_id of every table as one kind, Int64 if all are integers, else text (``str``), and
    the kind each table came with (None for a table without ids)."""
    ids, kinds = {}, {}
    for name, frame in raw.items():
        ids[name], kinds[name] = _id_column(frame["lead_id"])
    kind = "integer" if {k for k in kinds.values() if k} <= {"integer"} else "text"
    return {name: _as_kind(column, kind) for name, column in ids.items()}, kinds


def _stop_if_ids_cannot_match(name: str, kinds: dict, ids: pd.Series, lead_pos: np.ndarray) -> None:
    """Text and integer ids are compared as text ("17" matches 17); if that leaves most of a
    table's ids without a lead, the tables come from different systems."""
    if kinds[name] in (None, kinds["leads"]) or kinds["leads"] is None:
        return
    present = ids.notna().to_numpy()
    unmatched = (lead_pos < 0) & present
    if unmatched.sum() * 2 > present.sum():
        problem = (
            f"ids are {kinds[name]} here but {kinds['leads']} in leads, and "
            f"{unmatched.sum():,} of {present.sum():,} match no lead"
        )
        examples = pd.unique(ids[unmatched])[:N_EXAMPLES]
        raise DataContractError(name, "lead_id", problem, list(examples))


def _as_kind(ids: pd.Series, kind: str) -> pd.Series:
    if kind == "integer":
        return ids.astype("Int64")
    if ids.dtype == "Int64":  # through Arrow: astype("str") converts value by value in Python
        return ids.astype("int64[pyarrow]").astype("string[pyarrow]").astype("str")
    return ids.astype("str")


def _id_column(raw: pd.Series) -> tuple[pd.Series, str | None]:
    """(ids, kind): integers (or whole floats) as Int64, text as ``str``; no ids -> kind None.

    Booleans, timestamps and fractional numbers are not ids: they come back missing.
    """
    raw = raw.reset_index(drop=True)
    if raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) in _NUMBER_KINDS:
        raw = pd.to_numeric(raw, errors="coerce")  # Python numbers, not text
    dtype = raw.dtype
    if raw.isna().all():
        return raw.astype("Int64" if dtype.kind in "iuf" else "str"), None
    if pd.api.types.is_bool_dtype(dtype) or dtype.kind in "mM":
        return pd.Series(pd.NA, index=raw.index, dtype="Int64"), "integer"
    if pd.api.types.is_integer_dtype(dtype):
        return raw.astype("Int64"), "integer"
    if pd.api.types.is_float_dtype(dtype):
        whole = raw.where(np.isfinite(raw) & (raw == np.floor(raw)) & (raw.abs() < 2**62))
        return whole.astype("Int64"), "integer"
    text = raw.astype("str")
    return text.where(text.str.len() > 0), "text"


def _coerce(name: str, frame: pd.DataFrame, ids: pd.Series) -> _Table:
    """Contract dtypes for every column; rows with unusable required values are set aside."""
    table = _Table(name, {"lead_id": ids}, np.zeros(len(frame), dtype=np.int16))
    _stop_if_mostly_unreadable(table, frame["lead_id"], ids.isna().to_numpy(), "lead ids")
    table.set_aside(ids.isna().to_numpy(), Reason.MISSING_ID)
    for column in TABLES[name]:
        if column.name == "lead_id":
            continue
        if column.name not in frame.columns:
            table.columns[column.name] = pd.Series(index=ids.index, dtype=dtype_of(column))
            continue
        raw = frame[column.name].reset_index(drop=True)
        values, failed = _coerce_column(column, raw)
        missing = (values.isna() & ~failed).to_numpy()
        what = _described(column)
        if column.required and not column.nullable:
            _stop_if_mostly_unreadable(table, raw, failed | missing, what)
            table.set_aside(missing, Reason.missing(column.name))
            problem = Reason.unknown if column.allowed else Reason.unreadable
            table.set_aside(failed, problem(column.name))
        else:
            if column.required or not column.allowed:  # optional vocabularies may differ
                present = len(raw) - int(missing.sum())
                _stop_if_mostly_unreadable(table, raw, failed, what, present)
            problem = "unknown" if column.allowed else "unreadable"
            table.fixes[Reason.set_to_missing(problem, column.name)] = failed
            if column.kind in ("number", "integer"):
                negative = (values < 0).fillna(False).to_numpy(dtype=bool)
                table.fixes[Reason.set_to_missing("negative", column.name)] = negative
                values = values.mask(negative)
        table.columns[column.name] = values
    return table


def _coerce_column(column: Column, raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(values in the contract dtype, mask of values present but unreadable or not allowed).

    Blank text counts as missing, not as unreadable.
    """
    if column.kind == "timestamp":
        values = _to_timestamp(raw)
    elif column.kind == "category" and column.allowed:
        values = _to_category(raw, column.allowed)
    elif column.kind == "category":
        values = raw.astype("str")
    elif column.kind == "boolean":
        if pd.api.types.is_bool_dtype(raw.dtype):
            values = raw.astype("boolean")
        else:
            values = raw.astype("str").str.strip().str.lower().map(_BOOLEANS).astype("boolean")
    else:
        numbers = raw if raw.dtype.kind in "iuf" else pd.to_numeric(raw, errors="coerce")
        numbers = pd.Series(numbers, dtype="float64")
        numbers = numbers.where(np.isfinite(numbers))
        if column.kind == "integer":
            whole = (numbers == np.floor(numbers)) & (numbers.abs() < 2**62)
            values = numbers.where(whole).astype("Int64")
        else:
            values = numbers
    failed = (values.isna() & raw.notna()).to_numpy(dtype=bool, copy=True)
    suspects = np.flatnonzero(failed)
    if len(suspects) and raw.dtype.kind not in "iufbmM":
        blank = raw.iloc[suspects].astype("str").str.strip().str.len().to_numpy() == 0
        failed[suspects[blank]] = False
    return values, failed


def _to_timestamp(raw: pd.Series) -> pd.Series:
    """UTC, tz-naive ``datetime64[ns]``; text must be ISO 8601, numbers are not timestamps."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        values = raw.dt.tz_convert("UTC").dt.tz_localize(None)
    elif raw.dtype.kind == "M":
        values = raw
    elif raw.dtype.kind in "iufbm":
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    else:
        text = raw.astype(object) if isinstance(raw.dtype, pd.CategoricalDtype) else raw
        values = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
        values = values.dt.tz_localize(None)
    in_range = (values >= pd.Timestamp.min) & (values <= pd.Timestamp.max)
    return values.where(in_range).astype("datetime64[ns]")


def _to_category(raw: pd.Series, allowed: tuple[str, ...]) -> pd.Series:
    """Categorical over the contract vocabulary (exact spelling); other values become missing."""
    if isinstance(raw.dtype, pd.CategoricalDtype):
        codes, uniques = raw.cat.codes.to_numpy(), raw.cat.categories
    else:
        codes, uniques = pd.factorize(raw)
    lookup = np.append(pd.Index(allowed).get_indexer(pd.Index(uniques).astype(str)), -1)
    dtype = pd.CategoricalDtype(list(allowed))
    return pd.Series(pd.Categorical.from_codes(lookup[codes], dtype=dtype), index=raw.index)


def _described(column: Column) -> str:
    if column.allowed:
        return f"allowed {column.name} values ({', '.join(column.allowed)})"
    kinds = {"timestamp": "ISO 8601 timestamps", "boolean": "true/false", "number": "numbers"}
    return kinds.get(column.kind, f"{column.kind}s")


def _stop_if_mostly_unreadable(
    table: _Table, raw: pd.Series, failed: np.ndarray, what: str, total: int | None = None
) -> None:
    """Stop when most values are unusable: that is a wrong file or format, not a few bad rows."""
    total = len(failed) if total is None else total
    bad = int(failed.sum())
    if total and bad * 2 > total:
        examples = [f"row {i}: {raw.iloc[i]!r}" for i in np.flatnonzero(failed)[:N_EXAMPLES]]
        problem = (
            f"{bad:,} of {total:,} values are missing or not {what}; "
            "is this the right file and format?"
        )
        raise DataContractError(table.name, str(raw.name), problem, examples)


def _lead_positions(lead_ids: pd.Series, child_ids: pd.Series) -> np.ndarray:
    """Row of each event's lead in the leads table, -1 where there is none."""
    known = np.flatnonzero(lead_ids.notna().to_numpy())
    child_missing = child_ids.isna().to_numpy()
    if lead_ids.dtype == "Int64":
        index = pd.Index(lead_ids.iloc[known].to_numpy(dtype=np.int64))
        child = child_ids.fillna(0).to_numpy(dtype=np.int64)
        found = index.get_indexer(child)
    else:  # look up each distinct text id once: hashing 25M strings is the slow part
        codes, uniques = pd.factorize(child_ids)
        found = np.append(pd.Index(lead_ids.iloc[known]).get_indexer(uniques), -1)[codes]
    found[child_missing] = -1
    if len(known) == len(lead_ids):  # no lead without an id: positions need no mapping
        return found
    return np.where(found >= 0, known[found], -1)


def _set_aside_repeated_stages(table: _Table, lead_pos: np.ndarray) -> None:
    """A lead enters each stage once: keep the earliest entry, set aside later repeats."""
    rows = np.flatnonzero(table.kept())
    lead = lead_pos[rows]
    stage = table.columns["stage"].cat.codes.to_numpy()[rows]
    order = np.lexsort((as_ns(table.columns["changed_at"])[rows], stage, lead))
    later, earlier = order[1:], order[:-1]
    repeat = (lead[later] == lead[earlier]) & (stage[later] == stage[earlier])
    mask = np.zeros(len(table.code), dtype=bool)
    mask[rows[later[repeat]]] = True
    table.set_aside(mask, Reason.REPEATED_STAGE)


def _impossible_stage_orders(table: _Table, lead_pos: np.ndarray, n_leads: int) -> np.ndarray:
    """Leads (by position, plus a last always-False slot for -1) whose stages run backwards.

    Sorted by time, with rank breaking ties, a lead's stage ranks never fall; and a lead ends
    once: won and lost together, or any stage after either, cannot both be true.
    """
    rows = np.flatnonzero(table.kept())
    lead = lead_pos[rows]
    rank = np.array([STAGE_RANK[s] for s in STAGES])[table.columns["stage"].cat.codes.to_numpy()]
    rank = rank[rows]
    order = np.lexsort((rank, as_ns(table.columns["changed_at"])[rows], lead))
    lead_s, rank_s = lead[order], rank[order]
    backwards = (lead_s[1:] == lead_s[:-1]) & (rank_s[1:] < rank_s[:-1])
    bad = np.zeros(n_leads + 1, dtype=bool)
    bad[lead_s[1:][backwards]] = True
    endings = np.bincount(lead[rank == STAGE_RANK["won"]], minlength=n_leads + 1)
    bad |= endings > 1
    bad[-1] = False
    return bad


def _kept_frame(table: _Table) -> pd.DataFrame:
    """The kept rows, contract columns in contract order, fresh RangeIndex."""
    kept = table.kept()
    frame = pd.DataFrame({c.name: table.columns[c.name] for c in TABLES[table.name]})
    if not kept.all():
        frame = frame.loc[kept].reset_index(drop=True)
    frame["lead_id"] = frame["lead_id"].astype(
        "int64" if frame["lead_id"].dtype == "Int64" else "str"
    )
    return frame


def _report(table: _Table) -> list[SetAside]:
    """Counts per reason with a few examples; value fixes count only on rows that were kept."""
    ids = table.columns["lead_id"]

    def example(i: int) -> str:
        lead = ids.iloc[i]
        if pd.isna(lead):
            return f"row {i}"
        return str(lead) if table.name == "leads" else f"row {i} (lead {lead})"

    report = []
    counts = np.bincount(table.code, minlength=len(table.reasons) + 1)
    for code, reason in enumerate(table.reasons, start=1):
        rows = np.flatnonzero(table.code == code)[:N_EXAMPLES]
        report.append(SetAside(table.name, reason, int(counts[code]), [example(i) for i in rows]))
    kept = table.kept()
    for reason, mask in table.fixes.items():
        rows = np.flatnonzero(mask & kept)
        if len(rows):
            examples = [example(i) for i in rows[:N_EXAMPLES]]
            report.append(SetAside(table.name, reason, len(rows), examples))
    return report
