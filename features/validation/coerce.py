"""Every non-id column to the contract's dtype, deciding per value what a bad one costs.

A required value that is missing or unusable sets its row aside (the row cannot be used); an
optional attribute that is unknown, unreadable or negative is set to missing and reported, and
the row is kept. When most of a column is unusable, the file or format is wrong, so the run
stops instead of setting aside nearly everything.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.contract import TABLES, Column, dtype_of
from core.errors import DataContractError
from features.validation.reasons import N_EXAMPLES, Reason, Table

_BOOLEANS = dict.fromkeys(("true", "t", "yes", "y", "1", "1.0"), True) | dict.fromkeys(
    ("false", "f", "no", "n", "0", "0.0"), False
)


def coerce_table(name: str, frame: pd.DataFrame, ids: pd.Series) -> Table:
    """Contract dtypes for every column; rows with unusable required values are set aside."""
    table = Table(name, {"lead_id": ids}, np.zeros(len(frame), dtype=np.int16))
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
    table: Table, raw: pd.Series, failed: np.ndarray, what: str, total: int | None = None
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
