"""Column typing of a flat export: which columns are features, of what kind, and which are
dropped with the reason (the ``ColumnPlan``), and the model inputs built from it.

Decisions (each constant below is one of them):

- Numeric: numbers, booleans (as 0/1) and numbers written as text ("1,200", "$300", "12%").
  Integers stay numeric whatever their cardinality: trees split ordered values well.
- Categorical: any other text. At most ``MAX_LEVELS`` levels are kept, the most frequent
  ones; the rest become ``OTHER_LEVEL``, so rare values neither overfit nor break scoring.
- Dropped, with the reason: all missing; constant (one value, never missing: a value-or-blank
  column is kept, the blank carries the signal); id-like (text, or an integer named like an id,
  with a different value in every row); free text (more than ``FREE_TEXT_MIN_DISTINCT``
  distinct values that are more than ``FREE_TEXT_DISTINCT_SHARE`` of its rows); dates when
  there is no time column. With a time column a date becomes "days before that time".
- Dates: each date column is read in one format decided from all its labelled values
  (``core.dates``: ISO, day-first or month-first); a column whose values leave the convention
  open takes the one the table's other date columns prove, or the one the caller gives
  (``dates``), or is refused by name. The format is recorded in the plan, so scoring reads new
  rows the same way.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from core.dates import DateFormat, DateSurvey, agreed_convention, decide
from core.errors import InputError
from training.flat.values import PARSE_SHARE, as_datetimes, as_numbers, as_text, map_label

MAX_LEVELS = 50
OTHER_LEVEL = "(other)"
FREE_TEXT_MIN_DISTINCT = 100
FREE_TEXT_DISTINCT_SHARE = 0.5
ID_MIN_ROWS = 20
TYPE_SAMPLE_ROWS = 2_000
_ID_NAME = re.compile(r"(^|[_\s-])(id|key|uuid|number|no)$|^id[_\s-]", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z](Id|ID|Key|Number|No)$")


@dataclass(frozen=True)
class ColumnPlan:
    """How each column of the table is used.

    Attributes:
        label, id_column, time_column: the roles given by the user.
        label_mapping: each label value seen (as text) -> 0 or 1.
        kinds: feature -> "numeric", "categorical" or "days_before", in table order.
        levels: categorical feature -> kept levels, when it had more than ``MAX_LEVELS``.
        notes: feature -> how it is read, where that is not obvious.
        dropped: column -> why it is not used.
        date_formats: (date column, the one format it is read with) pairs: the time column and
            the "days_before" features (a tuple, so plans pickled before it existed load).
    """

    label: str
    label_mapping: dict[str, int]
    id_column: str | None
    time_column: str | None
    kinds: dict[str, str]
    levels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    date_formats: tuple[tuple[str, DateFormat], ...] = ()

    @property
    def features(self) -> list[str]:
        return list(self.kinds)

    @property
    def input_columns(self) -> list[str]:
        """Raw columns a scoring request must carry: the features, plus the time column when
        dates are measured against it."""
        needs_time = "days_before" in self.kinds.values()
        return [*self.features, *([self.time_column] if needs_time else [])]

    def date_format(self, name: str) -> DateFormat | None:
        """The format date column ``name`` is read with (None for a plan that predates them)."""
        return dict(self.date_formats).get(name)

    def without(self, reasons: dict[str, str]) -> ColumnPlan:
        """The plan with the features named in ``reasons`` dropped, each with its reason."""
        return replace(
            self,
            kinds={k: v for k, v in self.kinds.items() if k not in reasons},
            levels={k: v for k, v in self.levels.items() if k not in reasons},
            notes={k: v for k, v in self.notes.items() if k not in reasons},
            dropped={**self.dropped, **reasons},
            date_formats=tuple((k, v) for k, v in self.date_formats if k not in reasons),
        )

    def of_kind(self, kind: str) -> list[str]:
        return [name for name, k in self.kinds.items() if k == kind]

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "label_mapping": self.label_mapping,
            "id_column": self.id_column,
            "time_column": self.time_column,
            "numeric": self.of_kind("numeric"),
            "categorical": self.of_kind("categorical"),
            "days_before": self.of_kind("days_before"),
            "levels": {k: list(v) for k, v in self.levels.items()},
            "notes": self.notes,
            "dropped": self.dropped,
            "date_formats": {name: fmt.describe() for name, fmt in self.date_formats},
        }


# -- recognising a column's type -------------------------------------------------------------
def _is_bool_column(column: pd.Series) -> bool:
    present = column.dropna()
    return pd.api.types.is_bool_dtype(column.dtype) or (
        column.dtype == object
        and len(present) > 0
        and all(isinstance(v, bool | np.bool_) for v in present)
    )


def _sample(present: pd.Series) -> pd.Series:
    """Enough values to recognise a column's type, drawn from all of it (exports are often
    sorted, so the first rows can mislead)."""
    return present.sample(n=min(len(present), TYPE_SAMPLE_ROWS), random_state=0)


def _reads_as_numbers(present: pd.Series) -> bool:
    return bool(np.isfinite(as_numbers(_sample(present))).mean() >= PARSE_SHARE)


def _reads_as_dates(present: pd.Series) -> bool:
    """Nearly all values are dates in some convention (which one is decided later, from the
    whole column)."""
    survey = DateSurvey().add(_sample(present).astype(str))
    return survey.present > 0 and survey.readable_share >= PARSE_SHARE


# -- column plan -----------------------------------------------------------------------------
def _require_columns(frame: pd.DataFrame, roles: dict[str, str | None]) -> None:
    for role, name in roles.items():
        if name is not None and name not in frame.columns:
            close = difflib.get_close_matches(name.lower(), [c.lower() for c in frame.columns], 1)
            hint = [c for c in frame.columns if close and c.lower() == close[0]][:1]
            shown = ", ".join(map(repr, list(frame.columns)[:8]))
            more = f" and {len(frame.columns) - 8} more" if len(frame.columns) > 8 else ""
            guess = f"did you mean {hint[0]!r}? " if hint else ""
            raise InputError(
                f"{role} column {name!r} not in the table; {guess}it has {shown}{more}"
            )


def _type_column(name: str, column: pd.Series, has_time: bool) -> tuple[str, str]:
    """-> ("numeric" | "categorical" | "days_before" | "drop", note or reason)."""
    present = column.dropna()
    n, distinct = len(present), present.astype(str).nunique()
    if n == 0:
        return "drop", "all values missing"
    if distinct == 1 and n == len(column):
        return "drop", f"constant (always {present.iloc[0]!r})"
    if _is_bool_column(column):
        return "numeric", "boolean as 0/1"
    is_date = pd.api.types.is_datetime64_any_dtype(column.dtype)
    unique_per_row = distinct == n >= ID_MIN_ROWS
    if pd.api.types.is_numeric_dtype(column.dtype) or (not is_date and _reads_as_numbers(present)):
        whole = np.all(np.mod(as_numbers(_sample(present)), 1) == 0)
        if unique_per_row and whole and (_ID_NAME.search(name) or _CAMEL_ID.search(name)):
            return "drop", "id-like: whole numbers named like an id, different in every row"
        as_text_note = not pd.api.types.is_numeric_dtype(column.dtype)
        return "numeric", "numbers written as text" if as_text_note else ""
    if is_date or _reads_as_dates(present):
        if has_time:
            return "days_before", "date, as days before the time column"
        return "drop", "date column; pass a time column to use it as days before that time"
    if unique_per_row:
        return "drop", f"id-like: a different value in every row ({n:,} rows)"
    if distinct > FREE_TEXT_MIN_DISTINCT and distinct > FREE_TEXT_DISTINCT_SHARE * n:
        return "drop", f"free text: {distinct:,} distinct values in {n:,} rows"
    return "categorical", ""


def infer_columns(
    frame: pd.DataFrame,
    label: str,
    id_column: str | None = None,
    time_column: str | None = None,
    dates: str | None = None,
) -> ColumnPlan:
    """Type every column from the rows that have a label (those are the ones trained on).

    ``dates``: "dayfirst" or "monthfirst" for date columns whose values do not prove one
    (``core.dates.decide``); an ambiguous column without it raises ``InputError`` naming it."""
    _require_columns(frame, {"label": label, "id": id_column, "time": time_column})
    y, mapping = map_label(frame[label], label)
    rows = frame[y.notna().to_numpy()]
    kinds: dict[str, str] = {}
    levels: dict[str, tuple[str, ...]] = {}
    notes: dict[str, str] = {}
    dropped: dict[str, str] = {}
    if id_column is not None:
        dropped[id_column] = "id column (given)"
    for name in frame.columns:
        if name in (label, id_column, time_column):
            continue
        kind, text = _type_column(name, rows[name], has_time=time_column is not None)
        if kind == "drop":
            dropped[name] = text
            continue
        kinds[name] = kind
        if text:
            notes[name] = text
        if kind == "categorical":
            counts = as_text(rows[name]).value_counts().sort_index()
            if len(counts) > MAX_LEVELS:
                top = counts.sort_values(ascending=False, kind="stable").index[:MAX_LEVELS]
                levels[name] = tuple(sorted(top))
                notes[name] = (
                    f"{len(counts):,} levels; kept the {MAX_LEVELS} most frequent, "
                    f"the rest as {OTHER_LEVEL!r}"
                )
    date_columns = [time_column] if time_column is not None else []
    date_columns += [name for name, kind in kinds.items() if kind == "days_before"]
    formats = _date_formats(rows, date_columns, dates)
    if time_column is not None:
        times = as_datetimes(rows[time_column], formats[time_column])
        bad = rows[time_column].notna() & times.isna()
        if bad.sum() > (1 - PARSE_SHARE) * len(rows):
            examples = ", ".join(repr(v) for v in rows.loc[bad, time_column].head(3))
            raise InputError(
                f"time column {time_column!r}: {int(bad.sum()):,} values are not dates "
                f"(e.g. {examples})"
            )
    if not kinds:
        reasons = "; ".join(f"{k}: {v}" for k, v in list(dropped.items())[:5])
        raise InputError(f"no usable feature column besides the label ({reasons})")
    return ColumnPlan(
        label,
        mapping,
        id_column,
        time_column,
        kinds,
        levels,
        notes,
        dropped,
        tuple(formats.items()),
    )


def _date_formats(
    rows: pd.DataFrame, columns: list[str], dates: str | None
) -> dict[str, DateFormat]:
    """One format per date column; an entirely ambiguous column takes the convention the
    table's other date columns prove when they agree (a CRM writes all its dates alike)."""
    typed = {c for c in columns if pd.api.types.is_datetime64_any_dtype(rows[c].dtype)}
    surveys = {c: DateSurvey().add(rows[c]) for c in columns if c not in typed}
    fallback = agreed_convention(surveys.values())
    formats = {c: DateFormat("typed") for c in typed}
    for name, survey in surveys.items():
        formats[name] = decide(survey, f"date column {name!r}", dates, fallback)
    return {c: formats[c] for c in columns}


def flat_features(frame: pd.DataFrame, plan: ColumnPlan) -> pd.DataFrame:
    """Model inputs from raw table columns, the same way in training and in scoring."""
    missing = [c for c in plan.input_columns if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(map(repr, missing[:5]))} in the input")
    time = None
    if plan.of_kind("days_before"):
        time = as_datetimes(frame[plan.time_column], plan.date_format(plan.time_column))
    out: dict[str, object] = {}
    for name, kind in plan.kinds.items():
        if kind == "numeric":
            out[name] = as_numbers(frame[name])
        elif kind == "days_before" and time is not None:
            delta = time.to_numpy() - as_datetimes(frame[name], plan.date_format(name)).to_numpy()
            out[name] = delta / np.timedelta64(1, "D")
        else:
            text = as_text(frame[name])
            if name in plan.levels:
                text = text.where(text.isna() | text.isin(plan.levels[name]), OTHER_LEVEL)
            out[name] = text.to_numpy()
    return pd.DataFrame(out, index=frame.index)
