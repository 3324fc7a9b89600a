"""Leak detection and refusal: feature columns that give the label away on their own, and
suspects that nearly do.

Columns filled *after* the outcome ("lead quality", "status", "days to close") make a model look
perfect in testing and useless on new leads, so they are refused unless the user vouches for
them by name. The measures are ``features.leaks`` (shared with the CRM importer): a leak
determines the label or reaches ``LEAK_AUC`` on its own; a suspect has one big, near-pure value,
or carries most of the fitted model's gain (``MOST_GAIN_SHARE``). Suspects are not refused:
they are named in the summary and the run, and ``--drop-suspects`` leaves them out.
"""

from __future__ import annotations

import pandas as pd

from core.errors import InputError
from features.leaks import (
    EXACT_MAX_LEVELS,
    LEAK_AUC,
    LEAK_FOLDS,
    MOST_GAIN,
    TARGET_SMOOTHING,
    Leak,
    outcome_like,
    pure_level,
)
from training.flat.columns import ColumnPlan, flat_features
from training.flat.values import map_label

__all__ = [
    "EXACT_MAX_LEVELS",
    "LEAK_AUC",
    "LEAK_FOLDS",
    "MOST_GAIN_SHARE",
    "TARGET_SMOOTHING",
    "Leak",
    "find_leaky_columns",
    "find_suspects",
    "gain_suspect",
    "refuse_leaks",
]

MOST_GAIN_SHARE = 0.5


def _judged(frame: pd.DataFrame, label: str, plan: ColumnPlan):
    y_all, _ = map_label(frame[label], label)
    keep = y_all.notna().to_numpy()
    y = y_all.to_numpy()[keep].astype(int)
    return flat_features(frame[keep], plan), y


def find_leaky_columns(
    frame: pd.DataFrame, label: str, plan: ColumnPlan, *, seed: int = 0
) -> list[Leak]:
    """Feature columns that give the label away on their own (see ``features.leaks``)."""
    features, y = _judged(frame, label, plan)
    if len(set(y)) < 2:
        return []
    leaks = []
    for name, kind in plan.kinds.items():
        leak = outcome_like(name, features[name], y, numeric=kind != "categorical", seed=seed)
        if leak is not None:
            leaks.append(leak)
    return leaks


def find_suspects(
    frame: pd.DataFrame, label: str, plan: ColumnPlan, leaks: list[Leak]
) -> list[Leak]:
    """Feature columns (other than ``leaks``) with one big value that is a near-pure predictor
    of the label."""
    features, y = _judged(frame, label, plan)
    if len(set(y)) < 2:
        return []
    known = {leak.column for leak in leaks}
    found = (pure_level(name, features[name], y) for name in plan.kinds if name not in known)
    return [suspect for suspect in found if suspect is not None]


def gain_suspect(gain: pd.Series) -> Leak | None:
    """The feature carrying more than ``MOST_GAIN_SHARE`` of a fitted model's total gain: one
    column the model leans on that hard is often filled after the outcome."""
    total = float(gain.sum())
    if total <= 0 or len(gain) < 2:
        return None
    name, top = str(gain.idxmax()), float(gain.max()) / total
    if top <= MOST_GAIN_SHARE:
        return None
    return Leak(name, MOST_GAIN, f"carries {top:.0%} of the model's gain", top)


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
