"""One-row-per-lead exports (a CRM table with a converted flag): column typing, label mapping,
leak refusal and the split, as pure functions over DataFrames.

Many teams have no event history, only such an export. It is full of traps a model happily
learns from: ids, free-text notes, dates, and above all columns filled *after* the outcome
("lead quality", "status", "days to close"). Those make a model look perfect in testing and
useless on new leads, so they are refused unless the user vouches for them by name.

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
- Leaks: a column whose values determine the label exactly (a copy, its negation, a recoding
  such as Won/Lost), or whose own ROC-AUC reaches ``LEAK_AUC`` (numbers ranked both ways with
  blanks at either end; text by out-of-fold target rate, so rare levels cannot fake it).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from leadscore.errors import InputError
from training.model import LeadConversionModel
from training.split import time_split

MAX_LEVELS = 50
OTHER_LEVEL = "(other)"
FREE_TEXT_MIN_DISTINCT = 100
FREE_TEXT_DISTINCT_SHARE = 0.5
ID_MIN_ROWS = 20
PARSE_SHARE = 0.98  # share of a text column's values that must read as numbers (or dates)
TYPE_SAMPLE_ROWS = 2_000
LEAK_AUC = 0.97
EXACT_MAX_LEVELS = 20
TARGET_SMOOTHING = 10.0
LEAK_FOLDS = 5
MIN_PER_CLASS = 10
VALIDATION_SHARE = TEST_SHARE = 0.15
_POSITIVE = {"1", "1.0", "true", "t", "yes", "y", "won", "win", "closed won", "converted"}
_NEGATIVE = {"0", "0.0", "false", "f", "no", "n", "lost", "closed lost", "not converted"}
_NEGATIVE |= {"unconverted", "non converted"}
_NUMBER = re.compile(r"^[+-]?((\d{1,3}(,\d{3})+|\d+)(\.\d+)?|\.\d+)$")
_NUMBER_DECORATION = re.compile(r"[\s$€£%]")
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
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
    """

    label: str
    label_mapping: dict[str, int]
    id_column: str | None
    time_column: str | None
    kinds: dict[str, str]
    levels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return list(self.kinds)

    @property
    def input_columns(self) -> list[str]:
        """Raw columns a scoring request must carry: the features, plus the time column when
        dates are measured against it."""
        needs_time = "days_before" in self.kinds.values()
        return [*self.features, *([self.time_column] if needs_time else [])]

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
        }


@dataclass(frozen=True)
class Leak:
    """A column that gives the label away; ``evidence`` says how (shown to the user)."""

    column: str
    kind: str  # "determines the label" or "near-perfect predictor"
    evidence: str
    auc: float


@dataclass(frozen=True)
class FlatSplit:
    """Positions (into the usable rows) of train, validation and test, and how they were cut."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    method: str
    details: dict = field(default_factory=dict)

    def describe(self) -> dict[str, object]:
        return {
            "method": self.method,
            "train_rows": len(self.train),
            "validation_rows": len(self.validation),
            "test_rows": len(self.test),
            **self.details,
        }


# -- reading ---------------------------------------------------------------------------------
def read_flat_table(path: Path | str) -> pd.DataFrame:
    """CSV (any other suffix, optionally compressed; .tsv tab-separated) or Parquet."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
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
def _is_bool_column(column: pd.Series) -> bool:
    present = column.dropna()
    return pd.api.types.is_bool_dtype(column.dtype) or (
        column.dtype == object
        and len(present) > 0
        and all(isinstance(v, bool | np.bool_) for v in present)
    )


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


def as_datetimes(column: pd.Series) -> pd.Series:
    """Timestamps (naive UTC); NaT where a value is missing or not a date."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        parsed = pd.to_datetime(column, utc=True)
    else:
        text = column.astype("object").where(column.notna(), None)
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        if parsed.notna().sum() < PARSE_SHARE * text.notna().sum():
            parsed = pd.to_datetime(text, format="mixed", errors="coerce", utc=True)
    return parsed.dt.tz_convert(None)


def as_text(column: pd.Series) -> pd.Series:
    """Stripped text with missing values as None (object dtype, as the model expects)."""
    values = [str(v).strip() if pd.notna(v) else None for v in column.astype("object")]
    return pd.Series(values, index=column.index, dtype="object", name=column.name)


def _sample(present: pd.Series) -> pd.Series:
    """Enough values to recognise a column's type, drawn from all of it (exports are often
    sorted, so the first rows can mislead)."""
    return present.sample(n=min(len(present), TYPE_SAMPLE_ROWS), random_state=0)


def _reads_as_numbers(present: pd.Series) -> bool:
    return bool(np.isfinite(as_numbers(_sample(present))).mean() >= PARSE_SHARE)


def _reads_as_dates(present: pd.Series) -> bool:
    sample = _sample(present).astype(str)
    if sample.str.match(_DATE_LIKE).mean() < PARSE_SHARE:
        return False
    return bool(as_datetimes(sample).notna().mean() >= PARSE_SHARE)


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
) -> ColumnPlan:
    """Type every column from the rows that have a label (those are the ones trained on)."""
    _require_columns(frame, {"label": label, "id": id_column, "time": time_column})
    y, mapping = map_label(frame[label], label)
    rows = frame[y.notna().to_numpy()]
    if time_column is not None:
        times = as_datetimes(rows[time_column])
        bad = rows[time_column].notna() & times.isna()
        if bad.sum() > (1 - PARSE_SHARE) * len(rows):
            examples = ", ".join(repr(v) for v in rows.loc[bad, time_column].head(3))
            raise InputError(
                f"time column {time_column!r}: {int(bad.sum()):,} values are not dates "
                f"(e.g. {examples})"
            )
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
    if not kinds:
        reasons = "; ".join(f"{k}: {v}" for k, v in list(dropped.items())[:5])
        raise InputError(f"no usable feature column besides the label ({reasons})")
    return ColumnPlan(label, mapping, id_column, time_column, kinds, levels, notes, dropped)


def flat_features(frame: pd.DataFrame, plan: ColumnPlan) -> pd.DataFrame:
    """Model inputs from raw table columns, the same way in training and in scoring."""
    missing = [c for c in plan.input_columns if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(map(repr, missing[:5]))} in the input")
    time = as_datetimes(frame[plan.time_column]) if plan.of_kind("days_before") else None
    out: dict[str, object] = {}
    for name, kind in plan.kinds.items():
        if kind == "numeric":
            out[name] = as_numbers(frame[name])
        elif kind == "days_before" and time is not None:
            delta = time.to_numpy() - as_datetimes(frame[name]).to_numpy()
            out[name] = delta / np.timedelta64(1, "D")
        else:
            text = as_text(frame[name])
            if name in plan.levels:
                text = text.where(text.isna() | text.isin(plan.levels[name]), OTHER_LEVEL)
            out[name] = text.to_numpy()
    return pd.DataFrame(out, index=frame.index)


# -- usable rows -----------------------------------------------------------------------------
def usable_rows(frame: pd.DataFrame, plan: ColumnPlan) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Rows that can be trained on, their 0/1 labels, and how many were set aside and why.

    A row without a label (or, with a time column, without a valid time) cannot be placed,
    so it is set aside and counted, never silently dropped.
    """
    y, _ = map_label(frame[plan.label], plan.label)
    keep = y.notna().to_numpy().copy()
    set_aside = {"label missing": int((~keep).sum())}
    if plan.time_column is not None:
        has_time = as_datetimes(frame[plan.time_column]).notna().to_numpy()
        set_aside["time missing or not a date"] = int((keep & ~has_time).sum())
        keep &= has_time
    labels = y.to_numpy()[keep].astype(int)
    if labels.size == 0:
        raise InputError(f"label column {plan.label!r}: no row has a usable label")
    for outcome, name in ((1, "converted"), (0, "not converted")):
        count = int((labels == outcome).sum())
        if count == 0:
            raise InputError(
                f"label column {plan.label!r}: every labelled row is "
                f"{'not converted' if outcome else 'converted'}; a model needs both outcomes"
            )
        if count < MIN_PER_CLASS:
            raise InputError(
                f"label column {plan.label!r}: only {count} {name} rows; need at least "
                f"{MIN_PER_CLASS} of each outcome to train and test"
            )
    return frame[keep], labels, set_aside


# -- leaks -----------------------------------------------------------------------------------
def _level_keys(values: pd.Series) -> pd.Series:
    return values.astype("object").map(lambda v: "(missing)" if pd.isna(v) else str(v))


def _exact_leak(name: str, values: pd.Series, y: np.ndarray) -> Leak | None:
    keys = _level_keys(values)
    rates = pd.Series(y, index=keys.index).groupby(keys.to_numpy()).mean()
    if not 2 <= len(rates) <= EXACT_MAX_LEVELS or not rates.isin([0.0, 1.0]).all():
        return None
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    if np.array_equal(numbers, y):
        evidence = "identical to the label"
    elif np.array_equal(numbers, 1 - y):
        evidence = "the label negated"
    else:
        pairs = ", ".join(f"{k!r} = {int(r)}" for k, r in list(rates.items())[:4])
        what = "a recoding of the label" if len(rates) == 2 else "each value has one outcome"
        evidence = f"{what}: {pairs}"
    return Leak(name, "determines the label", evidence, 1.0)


def _numeric_auc(numbers: np.ndarray, y: np.ndarray) -> float:
    """Best AUC of the values as a score: either direction, blanks lowest or highest."""
    finite = numbers[np.isfinite(numbers)]
    if finite.size == 0:
        return 0.5
    best = 0.5
    for fill in (finite.min() - 1, finite.max() + 1):
        auc = roc_auc_score(y, np.where(np.isfinite(numbers), numbers, fill))
        best = max(best, auc, 1 - auc)
    return float(best)


def _target_rate_auc(values: pd.Series, y: np.ndarray, seed: int) -> float:
    """AUC of the out-of-fold, smoothed conversion rate of each row's level."""
    codes, _ = pd.factorize(_level_keys(values))
    folds = np.random.default_rng(seed).permutation(len(y)) % LEAK_FOLDS
    score = np.empty(len(y))
    for fold in range(LEAK_FOLDS):
        out = folds == fold
        count = np.bincount(codes[~out], minlength=codes.max() + 1)
        positive = np.bincount(codes[~out], weights=y[~out], minlength=codes.max() + 1)
        prior = y[~out].mean()
        score[out] = ((positive + TARGET_SMOOTHING * prior) / (count + TARGET_SMOOTHING))[
            codes[out]
        ]
    return float(roc_auc_score(y, score))


def find_leaky_columns(
    frame: pd.DataFrame, label: str, plan: ColumnPlan, *, seed: int = 0
) -> list[Leak]:
    """Feature columns that give the label away on their own (see the module docstring)."""
    y_all, _ = map_label(frame[label], label)
    keep = y_all.notna().to_numpy()
    y = y_all.to_numpy()[keep].astype(int)
    if len(np.unique(y)) < 2:
        return []
    features = flat_features(frame[keep], plan)
    leaks = []
    for name, kind in plan.kinds.items():
        values = features[name]
        leak = _exact_leak(name, values, y)
        if leak is None:
            if kind == "categorical":
                auc = _target_rate_auc(values, y, seed)
            else:
                auc = _numeric_auc(values.to_numpy(dtype="float64"), y)
            if auc >= LEAK_AUC:
                leak = Leak(name, "near-perfect predictor", f"AUC {auc:.3f} on its own", auc)
        if leak is not None:
            leaks.append(leak)
    return leaks


def refuse_leaks(
    leaks: list[Leak], allow_leaky: tuple[str, ...] | list[str], columns: list[str], label: str
) -> list[Leak]:
    """Raise for leaks not allowed by name; return the allowed ones (used and recorded)."""
    unknown = [name for name in allow_leaky if name not in columns]
    if unknown:
        raise InputError(f"--allow-leaky {unknown[0]!r}: no such column in the table")
    refused = [leak for leak in leaks if leak.column not in allow_leaky]
    if refused:
        listed = "; ".join(f"{leak.column} ({leak.evidence})" for leak in refused)
        raise InputError(
            f"leaky column(s) refused: {listed}. They give away label {label!r} on their own, "
            "so they are probably filled after the outcome; drop them, or pass "
            "--allow-leaky NAME for each one known before the outcome"
        )
    return [leak for leak in leaks if leak.column in allow_leaky]


# -- split -----------------------------------------------------------------------------------
def split_rows(rows: pd.DataFrame, y: np.ndarray, plan: ColumnPlan, *, seed: int) -> FlatSplit:
    """By time when there is a time column (train oldest, test newest), else stratified random
    (70/15/15, seeded). Every part must hold both outcomes."""
    positions = np.arange(len(rows))
    if plan.time_column is not None:
        times = as_datetimes(rows[plan.time_column]).to_numpy()
        timed = pd.DataFrame({plan.time_column: times, "__position__": positions})
        parts = time_split(
            timed,
            time_column=plan.time_column,
            validation_fraction=VALIDATION_SHARE,
            test_fraction=TEST_SHARE,
        )
        split = FlatSplit(
            *(p["__position__"].to_numpy() for p in (parts.train, parts.validation, parts.test)),
            method=f"time ({plan.time_column})",
            details={
                "validation_from": str(parts.boundaries[0]),
                "test_from": str(parts.boundaries[1]),
            },
        )
    else:
        held = VALIDATION_SHARE + TEST_SHARE
        train, rest = train_test_split(positions, test_size=held, stratify=y, random_state=seed)
        validation, test = train_test_split(
            rest, test_size=TEST_SHARE / held, stratify=y[rest], random_state=seed
        )
        split = FlatSplit(np.sort(train), np.sort(validation), np.sort(test), "stratified random")
    for part in ("train", "validation", "test"):
        if len(np.unique(y[getattr(split, part)])) < 2:
            raise InputError(
                f"label column {plan.label!r}: the {part} part of the {split.method} split has "
                "one outcome only; more rows of the rarer outcome are needed"
            )
    return split


@dataclass
class FlatScorer:
    """The fitted model with its column plan: raw table rows in, probabilities out."""

    plan: ColumnPlan
    model: LeadConversionModel

    def probability(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(flat_features(frame, self.plan))[:, 1]

    def predict(self, model_input: pd.DataFrame) -> pd.DataFrame:
        """The MLflow model's function: one ``probability`` per input row."""
        return pd.DataFrame({"probability": self.probability(model_input)})
