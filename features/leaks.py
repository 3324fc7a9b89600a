"""Columns that behave like the outcome, measured one column at a time.

A field filled *after* the outcome ("lead quality", "status", "converted date", tags sales adds
once a deal is won) makes a model look perfect in testing and useless on new leads. Two paths
need the same judgement: a flat export's columns before training (``training.flat.leaks``)
and a CRM export's lead fields on import (``features.importing``), so the measures live here,
once. A column is judged on its values and a 0/1 outcome per row:

- it **determines the outcome** when each of its values (at most ``EXACT_MAX_LEVELS``) has one
  outcome only: a copy, its negation, a recoding such as Won/Lost;
- it is a **near-perfect predictor** when its own ROC-AUC reaches ``LEAK_AUC``: numbers ranked
  both ways with blanks at either end (a date filled only for converters is caught by its
  blanks); text by the out-of-fold, smoothed conversion rate of its value, so rare values
  cannot fake it;
- it is a **suspect** when one value covering at least ``PURE_LEVEL_SHARE`` of the rows is a
  near-pure predictor: at least ``PURE_LEVEL_PURITY`` of its rows have one outcome, and the
  other outcome is at most ``PURE_LEVEL_LIFT`` times as common there as overall (so a big
  value that merely repeats a low base rate is not flagged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

LEAK_AUC = 0.97
EXACT_MAX_LEVELS = 20
TARGET_SMOOTHING = 10.0
LEAK_FOLDS = 5
PURE_LEVEL_SHARE = 0.05
PURE_LEVEL_PURITY = 0.95
PURE_LEVEL_LIFT = 0.25
PURE_LEVEL_MIN_ROWS = 20

DETERMINES = "determines the label"
NEAR_PERFECT = "near-perfect predictor"
PURE_LEVEL = "near-pure value"
MOST_GAIN = "carries most of the model's gain"


@dataclass(frozen=True)
class Leak:
    """A column that behaves like the outcome; ``evidence`` says how (shown to the user).

    Attributes:
        column: the column's name.
        kind: ``DETERMINES``, ``NEAR_PERFECT`` (leaks), ``PURE_LEVEL`` or ``MOST_GAIN``
            (suspects).
        evidence: what was measured, in words.
        auc: the column's own ROC-AUC (1.0 when it determines the outcome; for suspects the
            share of the rows or of the gain).
    """

    column: str
    kind: str
    evidence: str
    auc: float


def level_keys(values: pd.Series) -> pd.Series:
    """Each value as text, missing as ``(missing)``: the levels a column is judged by."""
    return values.astype("object").map(lambda v: "(missing)" if pd.isna(v) else str(v))


def exact_leak(name: str, values: pd.Series, y: np.ndarray) -> Leak | None:
    """The column when each of its values has one outcome only (see the module docstring)."""
    keys = level_keys(values)
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
    return Leak(name, DETERMINES, evidence, 1.0)


def numeric_auc(numbers: np.ndarray, y: np.ndarray) -> float:
    """Best AUC of the values as a score: either direction, blanks lowest or highest."""
    finite = numbers[np.isfinite(numbers)]
    if finite.size == 0:
        return 0.5
    best = 0.5
    for fill in (finite.min() - 1, finite.max() + 1):
        auc = roc_auc_score(y, np.where(np.isfinite(numbers), numbers, fill))
        best = max(best, auc, 1 - auc)
    return float(best)


def target_rate_auc(values: pd.Series, y: np.ndarray, seed: int) -> float:
    """AUC of the out-of-fold, smoothed conversion rate of each row's value."""
    codes, _ = pd.factorize(level_keys(values))
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


def outcome_like(
    name: str, values: pd.Series, y: np.ndarray, *, numeric: bool, seed: int = 0
) -> Leak | None:
    """The column as a leak when it determines the outcome or predicts it near-perfectly on
    its own; ``numeric`` says whether ``values`` are numbers (ranked) or levels (rated)."""
    leak = exact_leak(name, values, y)
    if leak is not None:
        return leak
    if numeric:
        auc = numeric_auc(values.to_numpy(dtype="float64"), y)
    else:
        auc = target_rate_auc(values, y, seed)
    if auc >= LEAK_AUC:
        return Leak(name, NEAR_PERFECT, f"AUC {auc:.3f} on its own", auc)
    return None


def pure_level(name: str, values: pd.Series, y: np.ndarray) -> Leak | None:
    """The column as a suspect when one of its values is a big, near-pure predictor (see the
    module docstring); the evidence names the value, its share and its conversion rate."""
    keys = level_keys(values)
    stats = pd.DataFrame({"key": keys.to_numpy(), "y": y}).groupby("key")["y"].agg(["size", "mean"])
    base = float(np.mean(y))
    share = stats["size"] / len(y)
    big = (share >= PURE_LEVEL_SHARE) & (stats["size"] >= PURE_LEVEL_MIN_ROWS)
    converted = (stats["mean"] >= PURE_LEVEL_PURITY) & (
        1 - stats["mean"] <= PURE_LEVEL_LIFT * (1 - base)
    )
    not_converted = (1 - stats["mean"] >= PURE_LEVEL_PURITY) & (
        stats["mean"] <= PURE_LEVEL_LIFT * base
    )
    hits = stats[big & (converted | not_converted)]
    if hits.empty:
        return None
    key = (share[hits.index]).idxmax()
    rate, rows = float(stats.loc[key, "mean"]), float(share[key])
    evidence = (
        f"value {key!r} covers {rows:.0%} of rows and {rate:.0%} of them converted "
        f"(overall {base:.0%})"
    )
    return Leak(name, PURE_LEVEL, evidence, rows)
