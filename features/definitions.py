"""The feature registry: every feature's name, kind and the reason it predicts conversion,
and the functions that compute them.

Features come in groups that share one pass over the events (all windowed counts of a
dimension are one ``bincount``), so a compute function produces a block of columns named here.
Every function receives events already cut by ``features.window`` (strictly before
``as_of``, as arrays) and returns columns aligned to the decision points; none reads the clock, a
file or settings. Batch training and online scoring both call them through ``features.build``.
Adding a feature = one entry here + its computation + tests; training, the model signature and
serving read the names from ``FEATURES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

from core.contract import ACTIONS, CHANNELS, LEADS_COLUMNS, PAGE_TYPES, STAGES, dtype_of
from features.window import NS_PER_DAY, WINDOWS, VisibleStages, VisibleTouches


@dataclass(frozen=True)
class Feature:
    """Attributes:
    name: the column name in training sets and model inputs.
    kind: "categorical" (LightGBM native categorical) or "numeric".
    dtype: the column's dtype, the same in batch and online (``build`` enforces it).
    description: why it matters, in words a marketer reads (feeds manifest, docs, reasons).
    group: the computation that produces it.
    """

    name: str
    kind: Literal["categorical", "numeric"]
    description: str
    group: str
    dtype: str = "float64"


@dataclass(frozen=True)
class TouchDimension:
    """A touch column whose values are counted per window and timed for recency.

    Attributes:
        column: the touches column.
        vocabulary: its values (contract order; the categorical codes index it).
        count_name: feature name pattern of a value's count in a window.
        recency_name: feature name pattern of the days since a value's last touch.
        phrase: how a marketer would say "touches with this value".
    """

    column: str
    vocabulary: tuple[str, ...]
    count_name: str
    recency_name: str
    phrase: str

    @cached_property
    def count_names(self) -> tuple[tuple[str, ...], ...]:
        """Count feature names by value, then window (formatted once, not per call)."""
        return tuple(
            tuple(self.count_name.format(value=value, window=window) for window in WINDOWS)
            for value in self.vocabulary
        )

    @cached_property
    def recency_names(self) -> tuple[str, ...]:
        return tuple(self.recency_name.format(value=value) for value in self.vocabulary)


TOUCH_DIMENSIONS: tuple[TouchDimension, ...] = (
    TouchDimension(
        "channel",
        CHANNELS,
        "{value}_touches_{window}",
        "days_since_last_{value}_touch",
        "touches on the {value} channel",
    ),
    TouchDimension(
        "action", ACTIONS, "{value}_count_{window}", "days_since_last_{value}", "{value} actions"
    ),
    TouchDimension(
        "page_type",
        PAGE_TYPES,
        "{value}_page_touches_{window}",
        "days_since_last_{value}_page_touch",
        "touches of {value} content",
    ),
)
PAGE_SECONDS_WINDOWS: tuple[str, ...] = ("3d", "30d", "all")

_CATEGORICAL_ATTRIBUTES = (
    "source",
    "lead_type",
    "lead_category",
    "industry",
    "country",
    "job_level",
    "department",
    "email_domain_type",
)
_OPEN_TEXT_ATTRIBUTES = ("country",)  # no closed vocabulary: training learns the levels
_NUMERIC_ATTRIBUTES = ("company_size", "annual_revenue", "has_phone")


def _window_phrase(window: str) -> str:
    return "ever" if window == "all" else f"in the last {WINDOWS[window]} days"


def _registry() -> tuple[Feature, ...]:
    features = [
        Feature(
            name,
            "categorical",
            f"Lead's {name.replace('_', ' ')} (fit and intent).",
            "attributes",
            "str" if name in _OPEN_TEXT_ATTRIBUTES else "category",
        )
        for name in _CATEGORICAL_ATTRIBUTES
    ]
    features += [
        Feature(
            name, "numeric", f"Lead's {name.replace('_', ' ')} (firmographic fit).", "attributes"
        )
        for name in _NUMERIC_ATTRIBUTES
    ]
    features += [
        Feature("days_in_funnel", "numeric", "Days since the lead was created.", "funnel"),
        Feature("days_since_mql", "numeric", "Days since the lead became MQL.", "funnel"),
        Feature("has_reached_sal", "numeric", "Sales already accepted the lead.", "funnel"),
    ]
    for window in WINDOWS:
        features.append(
            Feature(
                f"touches_{window}",
                "numeric",
                f"All touches {_window_phrase(window)}: engagement volume.",
                "touch_counts",
                "int32",
            )
        )
    for dim in TOUCH_DIMENSIONS:
        for value in dim.vocabulary:
            for window in WINDOWS:
                features.append(
                    Feature(
                        dim.count_name.format(value=value, window=window),
                        "numeric",
                        f"{dim.phrase.format(value=value)} {_window_phrase(window)}".capitalize(),
                        "touch_counts",
                        "int32",
                    )
                )
    features += [
        Feature("days_since_last_touch", "numeric", "Days of silence before now.", "recency"),
        Feature("days_since_first_touch", "numeric", "How long the lead has engaged.", "recency"),
    ]
    for dim in TOUCH_DIMENSIONS:
        for value in dim.vocabulary:
            features.append(
                Feature(
                    dim.recency_name.format(value=value),
                    "numeric",
                    f"Days since the last of the {dim.phrase.format(value=value)}.",
                    "recency",
                )
            )
    for page in PAGE_TYPES:
        for window in PAGE_SECONDS_WINDOWS:
            features.append(
                Feature(
                    f"{page}_page_seconds_{window}",
                    "numeric",
                    f"Seconds spent on {page} pages {_window_phrase(window)}.",
                    "page_time",
                )
            )
    features += [
        Feature(
            "distinct_page_types", "numeric", "Breadth of content interest.", "engagement", "int32"
        ),
        Feature(
            "distinct_channels", "numeric", "Breadth of channels engaged.", "engagement", "int32"
        ),
        Feature("email_open_rate", "numeric", "Share of sent e-mails opened.", "engagement"),
        Feature("email_click_rate", "numeric", "Share of opened e-mails clicked.", "engagement"),
    ]
    return tuple(features)


FEATURES: tuple[Feature, ...] = _registry()
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.kind == "categorical")
FEATURES_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}

Columns = dict[str, np.ndarray | pd.api.extensions.ExtensionArray]
_CONTRACT = {c.name: c for c in LEADS_COLUMNS}
_MQL, _SAL = STAGES.index("mql"), STAGES.index("sal")


def attributes(
    leads_aligned: Mapping[str, pd.Series | pd.api.extensions.ExtensionArray],
) -> Columns:
    """Firmographics, source and lead type as they were recorded on the lead.

    ``leads_aligned`` maps a leads column to its values aligned to the decision points (a frame
    or a dict of arrays). A column already in the contract's dtype is used as it is: the
    ``astype`` only types history that was not loaded through the contract.
    """
    out: Columns = {}
    for name in _CATEGORICAL_ATTRIBUTES:
        out[name] = _in_dtype(leads_aligned[name], dtype_of(_CONTRACT[name]))
    for name in _NUMERIC_ATTRIBUTES:
        values = leads_aligned[name]
        out[name] = (
            values.astype(np.float64)  # a plain array: already float64 (nan = missing)
            if isinstance(values, np.ndarray)
            else values.to_numpy(dtype="float64", na_value=np.nan)
        )
    return out


def _in_dtype(values: pd.Series | pd.api.extensions.ExtensionArray, dtype: object) -> object:
    array = values.array if isinstance(values, pd.Series) else values
    same = array.dtype == dtype and (
        not isinstance(dtype, pd.CategoricalDtype)
        or array.dtype.categories.equals(dtype.categories)  # == ignores the order of levels
    )
    return array if same else array.astype(dtype)


def funnel(as_of_ns: np.ndarray, created_ns: np.ndarray, stages: VisibleStages) -> Columns:
    """Time in the funnel and the stages already passed before ``as_of``."""
    n = len(as_of_ns)
    mql_age = np.full(n, np.nan)
    is_mql = stages.stage == _MQL
    mql_age[stages.row[is_mql]] = stages.age_ns[is_mql] / NS_PER_DAY
    sal_seen = np.zeros(n)
    sal_seen[stages.row[stages.stage == _SAL]] = 1.0
    return {
        "days_in_funnel": (as_of_ns - created_ns) / NS_PER_DAY,
        "days_since_mql": mql_age,
        "has_reached_sal": sal_seen,
    }


def touch_counts(touches: VisibleTouches, bucket: np.ndarray, n: int) -> Columns:
    """Touches per channel, action and page type in each look-back window.

    One bincount per dimension over (value, smallest window, row); a cumulative sum over the
    nested windows then yields every window's count. The counts are laid out feature-major
    (value, window, row), so each column is one contiguous run and the build stacks them into
    the frame's block with plain copies (row-major, a column of a million rows is strided).
    """
    rows = touches.row
    n_windows = len(WINDOWS)
    out: Columns = {}
    totals = np.bincount(bucket * n + rows, minlength=n_windows * n)
    totals = totals.reshape(n_windows, n).cumsum(axis=0, dtype=np.int32)
    for w, window in enumerate(WINDOWS):
        out[f"touches_{window}"] = totals[w]
    for dim in TOUCH_DIMENSIONS:
        codes = touches.codes(dim.column).astype(np.int64)
        k = len(dim.vocabulary)
        known = codes >= 0
        flat = (codes[known] * n_windows + bucket[known]) * n + rows[known]
        counts = np.bincount(flat, minlength=k * n_windows * n).reshape(k, n_windows, n)
        counts = counts.cumsum(axis=1, dtype=np.int32)
        for i, names in enumerate(dim.count_names):
            for w, name in enumerate(names):
                out[name] = counts[i, w]
    return out


def recency(touches: VisibleTouches, n: int) -> Columns:
    """Days since the last (and first) touch, overall and per channel, action and page type.

    Never-seen is NaN, not a large number: "never" and "long ago" are different facts.
    """
    rows, age = touches.row, touches.age_ns
    last = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(last, rows, age)
    first = np.full(n, -1, dtype=np.int64)
    np.maximum.at(first, rows, age)
    out: Columns = {
        "days_since_last_touch": _days_or_nan(last, last == np.iinfo(np.int64).max),
        "days_since_first_touch": _days_or_nan(first, first < 0),
    }
    for dim in TOUCH_DIMENSIONS:
        codes = touches.codes(dim.column).astype(np.int64)
        k = len(dim.vocabulary)
        known = codes >= 0
        latest = np.full(k * n, np.iinfo(np.int64).max)
        np.minimum.at(latest, codes[known] * n + rows[known], age[known])
        days = _days_or_nan(latest, latest == np.iinfo(np.int64).max).reshape(k, n)
        for i, name in enumerate(dim.recency_names):
            out[name] = days[i]
    return out


def _days_or_nan(age_ns: np.ndarray, missing: np.ndarray) -> np.ndarray:
    days = age_ns / NS_PER_DAY
    days[missing] = np.nan
    return days


def page_time(touches: VisibleTouches, bucket: np.ndarray, n: int) -> Columns:
    """Seconds spent per page type in the recent and whole past (a touch without a duration
    adds nothing)."""
    rows = touches.row
    codes = touches.page_type.astype(np.int64)
    seconds = touches.duration_s
    known = (codes >= 0) & ~np.isnan(seconds)
    k, n_windows = len(PAGE_TYPES), len(WINDOWS)
    flat = (codes[known] * n_windows + bucket[known]) * n + rows[known]
    sums = np.bincount(flat, weights=seconds[known], minlength=k * n_windows * n)
    sums = sums.reshape(k, n_windows, n).cumsum(axis=1)
    return {name: sums[i, w] for name, i, w in _PAGE_SECONDS}


_WINDOW_INDEX = {window: w for w, window in enumerate(WINDOWS)}
_PAGE_SECONDS = tuple(
    (f"{page}_page_seconds_{window}", i, _WINDOW_INDEX[window])
    for i, page in enumerate(PAGE_TYPES)
    for window in PAGE_SECONDS_WINDOWS
)


def engagement(counts: Columns) -> Columns:
    """Breadth of interest and e-mail responsiveness, derived from the all-time counts."""
    pages = np.column_stack([counts[f"{p}_page_touches_all"] for p in PAGE_TYPES])
    channels = np.column_stack([counts[f"{c}_touches_all"] for c in CHANNELS])
    sent = counts["email_sent_count_all"].astype(float)
    opened = counts["email_open_count_all"].astype(float)
    clicked = counts["email_click_count_all"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        open_rate = np.where(sent > 0, np.minimum(opened / sent, 1.0), np.nan)
        click_rate = np.where(opened > 0, np.minimum(clicked / opened, 1.0), np.nan)
    return {
        "distinct_page_types": (pages > 0).sum(axis=1),
        "distinct_channels": (channels > 0).sum(axis=1),
        "email_open_rate": open_rate,
        "email_click_rate": click_rate,
    }
