"""Reading a flat export and its cells: the file, the label as 0/1, numbers, dates and text.

These readers are shared by column typing, leak checks and scoring, so a value is read the same
way when the plan is made, when leaks are measured and when a new lead is scored.

- Label: booleans, 0/1 and the usual outcome words (yes/no, won/lost, closed won/closed lost,
  converted/not converted) in any case; anything else is refused by name rather than guessed.
- Numbers: numbers, booleans (as 0/1) and numbers written as text ("1,200", "$300", "12%").
- Dates: one format per column, decided from all its values (``core.dates``: ISO, day-first or
  month-first, never guessed value by value), as naive UTC timestamps.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from core.dates import DateFormat, parse_dates, read_date_column
from core.errors import InputError
from core.paths import input_file

PARSE_SHARE = 0.98  # share of a text column's values that must read as numbers (or dates)
_POSITIVE = {"1", "1.0", "true", "t", "yes", "y", "won", "win", "closed won", "converted"}
_NEGATIVE = {"0", "0.0", "false", "f", "no", "n", "lost", "closed lost", "not converted"}
_NEGATIVE |= {"unconverted", "non converted"}
_NUMBER = re.compile(r"^[+-]?((\d{1,3}(,\d{3})+|\d+)(\.\d+)?|\.\d+)$")
_NUMBER_DECORATION = re.compile(r"[\s$€£%]")


# -- reading ---------------------------------------------------------------------------------
def read_flat_table(path: Path | str) -> pd.DataFrame:
    """CSV (any other suffix, optionally compressed; .tsv tab-separated) or Parquet."""
    path = input_file(Path(path), "file (a CSV or Parquet export)")
    parquet = path.suffix.lower() in {".parquet", ".pq"}
    try:
        if parquet:
            frame = pd.read_parquet(path)
        else:
            sep = "\t" if path.suffix.lower() == ".tsv" else ","
            frame = pd.read_csv(path, sep=sep, low_memory=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty") from None
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        kind = "Parquet" if parquet else "CSV"
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{path}: cannot read it as {kind} ({reason})") from None
    if frame.empty:
        raise InputError(f"{path}: the table has no rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


# -- label -----------------------------------------------------------------------------------
def _label_key(value: object) -> str:
    return re.sub(r"[\s_-]+", " ", str(value).strip().lower())


def map_label(values: pd.Series, label: str) -> tuple[pd.Series, dict[str, int]]:
    """Label values -> 0/1 (nullable ``Int8``; missing stays missing) and the mapping used.

    Accepted: booleans, 0/1 numbers, and (any case) yes/no, true/false, won/lost, closed
    won/closed lost, converted/not converted.
    """
    present = values.dropna()
    mapping: dict[str, int] = {}
    unknown: list[str] = []
    for value in pd.unique(present):
        key = _label_key(value)
        if isinstance(value, bool | np.bool_):
            mapping[str(value)] = int(value)
        elif key in _POSITIVE or key in _NEGATIVE:
            mapping[str(value)] = int(key in _POSITIVE)
        else:
            unknown.append(str(value))
    if unknown:
        shown = ", ".join(repr(v) for v in sorted(unknown)[:5])
        raise InputError(
            f"label column {label!r}: cannot map {shown} to converted/not converted; use "
            "booleans, 0/1, yes/no, true/false, won/lost or converted/not converted"
        )
    mapped = values.map(lambda v: mapping.get(str(v)) if pd.notna(v) else None)
    return mapped.astype("Int8"), mapping


# -- value readers (shared by typing, leak checks and scoring) --------------------------------
def as_numbers(column: pd.Series) -> np.ndarray:
    """Floats from numbers, booleans, "true"/"false" and number text ("1,200", "$3", "5%")."""
    if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        return pd.to_numeric(column, errors="coerce").astype("float64").to_numpy()

    def one(value: object) -> float:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return np.nan
        if isinstance(value, bool | np.bool_ | int | float | np.number):
            return float(value)
        text = _NUMBER_DECORATION.sub("", str(value)).lower()
        if text in {"true", "false"}:
            return float(text == "true")
        return float(text.replace(",", "")) if text and _NUMBER.match(text) else np.nan

    return np.array([one(v) for v in column.astype("object")], dtype="float64")


def as_datetimes(column: pd.Series, fmt: DateFormat | None) -> pd.Series:
    """Timestamps (naive UTC) read in the column's one format; NaT where a value is missing or
    not a date in it. Without a format (a plan made before formats were recorded) the format
    is decided from these values alone."""
    if fmt is None:
        values, _ = read_date_column(column, str(column.name))
    else:
        values = parse_dates(column, fmt)
    return pd.Series(values, index=column.index, name=column.name)


def as_text(column: pd.Series) -> pd.Series:
    """Stripped text with missing values as None (object dtype, as the model expects)."""
    values = [str(v).strip() if pd.notna(v) else None for v in column.astype("object")]
    return pd.Series(values, index=column.index, dtype="object", name=column.name)
