"""Leak detection and refusal: feature columns that give the label away on their own.

Columns filled *after* the outcome ("lead quality", "status", "days to close") make a model look
perfect in testing and useless on new leads, so they are refused unless the user vouches for
them by name. A leak is flagged when a column behaves like the outcome, not only when it copies
it: a column whose values determine the label exactly (a copy, its negation, a recoding such as
Won/Lost), or whose own ROC-AUC reaches ``LEAK_AUC`` (numbers ranked both ways with blanks at
either end; text by out-of-fold target rate, so rare levels cannot fake it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from core.errors import InputError
from training.flat.columns import ColumnPlan, flat_features
from training.flat.values import map_label

LEAK_AUC = 0.97
EXACT_MAX_LEVELS = 20
TARGET_SMOOTHING = 10.0
LEAK_FOLDS = 5


@dataclass(frozen=True)
class Leak:
    """A column that gives the label away; ``evidence`` says how (shown to the user)."""

    column: str
    kind: str  # "determines the label" or "near-perfect predictor"
    evidence: str
    auc: float


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
