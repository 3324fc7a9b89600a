"""One reading of a date column: one format per column, decided from all its values, never
guessed value by value.

A parser that guesses per value reads ``02/01/2023`` as 1 February in a column whose other
values (``15/01/2023``) prove the export writes day-first: one column then mixes two
conventions and every time split or window built on it is wrong, silently. So a column is
surveyed first (``DateSurvey``, which can be fed chunk by chunk for large files) and one
``DateFormat`` is decided for all of it (``decide``):

- year-first values (``2023-01-15``, ``2023/01/15 10:00``, ISO 8601 with a zone) are read as
  such in any column;
- day-first when some value proves it (a first field over 12: ``15/01/2023``), month-first
  likewise (a second field over 12: ``01/15/2023``);
- a column with values of both conventions, or with only ambiguous values (``02/01/2023``),
  takes the convention the caller was told (``--dayfirst``/``--monthfirst``); an entirely
  ambiguous column may also take the one the other date columns of the same file prove
  (``fallback``, when they agree); otherwise ``InputError`` names the column and the option.

Times of day (``10:30``, ``10:30:15.250``, ``10:30 PM``) and zones (``Z``, ``UTC``,
``+02:00``) are read too; a value with a zone is converted to UTC, one without is taken to be
UTC already (the data contract's rule). Two-digit years and numbers are not dates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import InputError

Convention = Literal["dayfirst", "monthfirst"]
CONVENTIONS: tuple[str, ...] = ("dayfirst", "monthfirst")
OPTION = "say which with --dayfirst or --monthfirst"

# RE2 (pyarrow's regex engine): three numeric fields, an optional time, an optional zone.
_PATTERN = (
    r"^\s*(?P<a>\d{1,4})[-/.](?P<b>\d{1,2})[-/.](?P<c>\d{1,4})"
    r"(?:(?:T|\s+)(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?P<fraction>[.,]\d{1,9})?)?"
    r"\s*(?P<half>[AaPp][Mm])?)?"
    r"\s*(?P<zone>[Zz]|UTC|GMT|(?P<sign>[+-])(?P<zone_hours>\d{2}):?(?P<zone_minutes>\d{2})?)?\s*$"
)
_DESCRIPTIONS = {
    "typed": "typed timestamps",
    "iso": "ISO 8601 (year first)",
    "dayfirst": "day-first (DD/MM/YYYY)",
    "monthfirst": "month-first (MM/DD/YYYY)",
}


@dataclass
class DateSurvey:
    """What a column's values prove about its format; ``add`` it chunk after chunk.

    Attributes:
        present: values that are not missing or blank.
        iso: year-first values (``2023-01-15``).
        dayfirst: values only day-first can read (first field over 12).
        monthfirst: values only month-first can read (second field over 12).
        ambiguous: values both conventions read, as different days (``02/01/2023``).
        either: values both read as the same day (``05/05/2023``).
        unreadable: present values that are no date in any convention.
        examples: the first value of each kind above.
    """

    present: int = 0
    iso: int = 0
    dayfirst: int = 0
    monthfirst: int = 0
    ambiguous: int = 0
    either: int = 0
    unreadable: int = 0
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, values: pa.Array | pa.ChunkedArray | pd.Series) -> DateSurvey:
        """Count one chunk of text values (missing and blank ones are skipped)."""
        text = _text(values)
        _, common = _common_iso(text)
        if common.any():
            self.iso += int(common.sum())
            self.present += int(common.sum())
            self.examples.setdefault("iso", str(text[int(np.argmax(common))].as_py()).strip())
            text = text.filter(pa.array(~common))
        parts = _fields(text)
        present = pc.fill_null(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0), False)
        kinds = _kinds(parts, present.to_numpy(zero_copy_only=False))
        names = ("iso", "dayfirst", "monthfirst", "ambiguous", "either", "unreadable")
        for code, name in enumerate(names):
            hits = np.flatnonzero(kinds == code)
            setattr(self, name, getattr(self, name) + hits.size)
            if hits.size and name not in self.examples:
                self.examples[name] = str(text[int(hits[0])].as_py()).strip()
        self.present += int((kinds >= 0).sum())
        return self

    @property
    def proven(self) -> str | None:
        """ "dayfirst", "monthfirst", "both" or None: what the values prove."""
        if self.dayfirst and self.monthfirst:
            return "both"
        if self.dayfirst:
            return "dayfirst"
        return "monthfirst" if self.monthfirst else None

    @property
    def readable_share(self) -> float:
        """Share of present values that are a date in some convention (1.0 when none)."""
        return 1.0 - self.unreadable / self.present if self.present else 1.0


@dataclass(frozen=True)
class DateFormat:
    """The one format a column is read with, and why (shown in reports).

    Attributes:
        order: "typed" (already timestamps), "iso", "dayfirst" or "monthfirst"; "iso" columns
            read only year-first values, the others read year-first values too.
        reason: how it was decided ("values like '15/01/2023' prove it", "--dayfirst").
    """

    order: str
    reason: str = ""

    def describe(self) -> str:
        text = _DESCRIPTIONS[self.order]
        return f"{text}, {self.reason}" if self.reason else text


def decide(
    survey: DateSurvey,
    column: str,
    convention: str | None = None,
    fallback: str | None = None,
) -> DateFormat:
    """The format of the surveyed column (see the module docstring for the rule).

    ``convention``: what the user said (``--dayfirst``/``--monthfirst``), used for columns
    whose values do not prove one convention; a column that proves the other one is refused,
    as the user's word and the data disagree. ``fallback``: the convention the other date
    columns of the same file prove, used for an entirely ambiguous column. Raises
    ``InputError`` naming the column and the option when the values leave it open.
    """
    if convention is not None and convention not in CONVENTIONS:
        raise InputError(f"date convention {convention!r}: use 'dayfirst' or 'monthfirst'")
    proven, ex = survey.proven, survey.examples
    if proven in CONVENTIONS:
        if convention is not None and convention != proven:
            raise InputError(
                f"{column}: dates are {_DESCRIPTIONS[proven]} (values like {ex[proven]!r} "
                f"prove it), but {convention} was given"
            )
        return DateFormat(proven, f"values like {ex[proven]!r} prove it")
    if proven == "both":
        if convention is not None:
            other = "monthfirst" if convention == "dayfirst" else "dayfirst"
            return DateFormat(
                convention, f"as given; its {getattr(survey, other):,} {other} values unreadable"
            )
        raise InputError(
            f"{column}: dates mix day-first ({ex['dayfirst']!r}) and month-first "
            f"({ex['monthfirst']!r}) values; {OPTION}"
        )
    if not survey.ambiguous and not survey.either:
        return DateFormat("iso")
    if convention is not None:
        return DateFormat(convention, f"as given ({survey.ambiguous:,} values could be either)")
    if fallback is not None:
        return DateFormat(fallback, "as the other date columns of the file prove")
    if not survey.ambiguous:  # every value reads the same either way (05/05/2023)
        return DateFormat("dayfirst", "every value reads the same either way")
    raise InputError(
        f"{column}: dates are ambiguous: {survey.ambiguous:,} values like {ex['ambiguous']!r} "
        f"read as day-first or month-first and none proves which; {OPTION}"
    )


def agreed_convention(surveys: Iterable[DateSurvey]) -> str | None:
    """The one convention the proven columns of a file agree on (None if none or they differ):
    the ``fallback`` for that file's entirely ambiguous columns. A column that mixes both
    proves nothing here (it is refused on its own)."""
    proven = {s.proven for s in surveys if s.proven in CONVENTIONS}
    return proven.pop() if len(proven) == 1 else None


def parse_dates(values: pa.Array | pa.ChunkedArray | pd.Series, fmt: DateFormat) -> np.ndarray:
    """``datetime64[ns]`` (naive UTC) per value in ``fmt``; NaT where missing or unreadable
    (a value of the other convention, a 30 February, a two-digit year)."""
    if fmt.order == "typed" or _is_typed(values):
        return _typed(values)
    text = _text(values)
    stamps, common = _common_iso(text)
    if common.all():
        return stamps
    rest = np.flatnonzero(~common)
    stamps[rest] = _parse_fields(_fields(text.take(pa.array(rest))), fmt)
    return stamps


def _parse_fields(parts: pa.StructArray, fmt: DateFormat) -> np.ndarray:
    """``parse_dates`` for values the common ISO reading did not take, from their fields."""
    a, b, c = (_ints(parts, name) for name in "abc")
    la, lc = _lengths(parts, "a"), _lengths(parts, "c")
    year_first = la == 4
    if fmt.order == "iso":
        day_first = np.zeros_like(year_first)
        month_first = np.zeros_like(year_first)
    else:
        other = ~year_first & (lc == 4) & (la <= 2)
        day_first = other & (fmt.order == "dayfirst")
        month_first = other & (fmt.order == "monthfirst")
    year = np.select([year_first, day_first | month_first], [a, c], -1)
    month = np.select([year_first, day_first, month_first], [b, b, a], -1)
    day = np.select([year_first, day_first, month_first], [c, a, b], -1)
    return _assemble(parts, year, month, day)


def read_date_column(
    values: pd.Series, column: str, convention: str | None = None, fallback: str | None = None
) -> tuple[np.ndarray, DateFormat]:
    """Survey, decide and parse one in-memory column: ``(datetime64[ns] values, format)``."""
    if _is_typed(values):
        return _typed(values), DateFormat("typed")
    fmt = decide(DateSurvey().add(values), column, convention, fallback)
    return parse_dates(values, fmt), fmt


# -- internals -------------------------------------------------------------------------------
def _is_typed(values: object) -> bool:
    if isinstance(values, pd.Series):
        return pd.api.types.is_datetime64_any_dtype(values.dtype)
    return pa.types.is_timestamp(values.type) or pa.types.is_date(values.type)


def _typed(values: object) -> np.ndarray:
    series = values if isinstance(values, pd.Series) else pd.Series(values.to_pandas())
    stamps = pd.to_datetime(series, utc=True, errors="coerce")
    return stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")


def _text(values: pa.Array | pa.ChunkedArray | pd.Series) -> pa.Array:
    """Values as one pyarrow string array (missing as null)."""
    if isinstance(values, pd.Series):
        if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            return pa.nulls(len(values), pa.string())  # numbers are not dates
        objects = values.astype("object")
        text = objects.where(objects.isna(), objects.astype(str)).where(objects.notna(), None)
        return pa.array(text.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        if pa.types.is_dictionary(values.type):
            return pc.cast(values, pa.string())
        return pa.nulls(len(values), pa.string())
    return values


def _common_iso(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The fast reading of the usual ``YYYY-MM-DD...`` values (pandas' ISO 8601 parser, ten
    times the speed of the regular expression): ``(datetime64[ns] values, mask of values it
    read)``. Only values with dashes at places 5 and 8 are offered, so a number such as
    ``2023`` is never taken for a date."""
    shaped = pc.and_(
        pc.equal(pc.utf8_slice_codeunits(text, 4, 5), "-"),
        pc.equal(pc.utf8_slice_codeunits(text, 7, 8), "-"),
    )
    shaped = pc.fill_null(shaped, False).to_numpy(zero_copy_only=False)
    stamps = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
    if not shaped.any():
        return stamps, shaped
    offered = np.flatnonzero(shaped)
    chosen = text if offered.size == len(text) else text.take(pa.array(offered))
    read = pd.to_datetime(
        pd.Series(chosen.to_numpy(zero_copy_only=False), dtype="object"),
        format="ISO8601",
        errors="coerce",
        utc=True,
    )
    values = read.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    stamps[offered] = values
    return stamps, ~np.isnat(stamps)


def _fields(text: pa.Array) -> pa.StructArray:
    return pc.extract_regex(text, _PATTERN)


def _field(parts: pa.StructArray, name: str) -> pa.Array:
    """One captured group: null where the value did not match or the group took no part."""
    values = pc.struct_field(parts, name)
    return pc.if_else(pc.greater(pc.utf8_length(values), 0), values, pa.scalar(None, pa.string()))


def _ints(parts: pa.StructArray, name: str) -> np.ndarray:
    values = pc.cast(_field(parts, name), pa.int64(), safe=False)
    return pc.fill_null(values, -1).to_numpy(zero_copy_only=False)


def _lengths(parts: pa.StructArray, name: str) -> np.ndarray:
    return pc.fill_null(pc.utf8_length(_field(parts, name)), 0).to_numpy(zero_copy_only=False)


def _kinds(parts: pa.StructArray, present: np.ndarray) -> np.ndarray:
    """Per value: -1 missing, 0 iso, 1 dayfirst, 2 monthfirst, 3 ambiguous, 4 either,
    5 unreadable."""
    a, b, c = (_ints(parts, name) for name in "abc")
    la, lc = _lengths(parts, "a"), _lengths(parts, "c")
    matched = parts.is_valid().to_numpy(zero_copy_only=False)
    iso = matched & (la == 4) & (b >= 1) & (b <= 12) & (c >= 1) & (c <= 31)
    short = matched & (la <= 2) & (lc == 4) & (a >= 1) & (b >= 1) & (a <= 31) & (b <= 31)
    dayfirst = short & (a > 12) & (b <= 12)
    monthfirst = short & (b > 12) & (a <= 12)
    both = short & (a <= 12) & (b <= 12)
    kinds = np.select(
        [~present, iso, dayfirst, monthfirst, both & (a != b), both],
        [-1, 0, 1, 2, 3, 4],
        5,
    )
    return kinds.astype(np.int8)


def _assemble(
    parts: pa.StructArray, year: np.ndarray, month: np.ndarray, day: np.ndarray
) -> np.ndarray:
    """Components -> datetime64[ns] (NaT where any is out of range)."""
    hour, minute, second = (
        np.maximum(_ints(parts, name), 0) for name in ("hour", "minute", "second")
    )
    half = pc.fill_null(pc.utf8_lower(_field(parts, "half")), "").to_numpy(zero_copy_only=False)
    pm, am = half == "pm", half == "am"
    valid = (year >= 1678) & (year <= 2261) & (month >= 1) & (month <= 12) & (day >= 1)
    valid &= np.where(am | pm, (hour >= 1) & (hour <= 12), hour <= 23) & (minute <= 59)
    valid &= second <= 59
    hour = np.where(pm & (hour < 12), hour + 12, np.where(am & (hour == 12), 0, hour))
    months = np.where(valid, (year - 1970) * 12 + month - 1, 0).astype("datetime64[M]")
    days_in_month = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(
        np.int64
    )
    valid &= day <= days_in_month
    stamp = months.astype("datetime64[D]").astype("datetime64[ns]")
    stamp = stamp + ((day - 1) * 86_400 + hour * 3_600 + minute * 60 + second).astype(
        "timedelta64[s]"
    )
    digits = pc.utf8_rpad(pc.utf8_slice_codeunits(_field(parts, "fraction"), 1), 9, "0")
    nanos = pc.fill_null(pc.cast(digits, pa.int64(), safe=False), 0)
    stamp = stamp + nanos.to_numpy(zero_copy_only=False).astype("timedelta64[ns]")
    sign = pc.fill_null(_field(parts, "sign"), "").to_numpy(zero_copy_only=False)
    zone_minutes = np.maximum(_ints(parts, "zone_hours"), 0) * 60
    zone_minutes += np.maximum(_ints(parts, "zone_minutes"), 0)
    offset = np.where(sign == "-", -zone_minutes, np.where(sign == "+", zone_minutes, 0))
    stamp = stamp - (offset * 60).astype("timedelta64[s]")
    return np.where(valid, stamp, np.datetime64("NaT")).astype("datetime64[ns]")
