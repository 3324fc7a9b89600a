"""The training frame of a flat export: the rows that can be used (with their 0/1 labels and
what was set aside) and their split into train, validation and test.

With a time column the split is by time (train oldest, test newest), as scoring will meet
newer leads; without one it is stratified random. Each part must hold as many rows of each
outcome as ``training.split.MIN_ROWS_PER_OUTCOME`` says (so the table needs ``MIN_PER_CLASS``
of each), or the metrics of the run would mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from core.errors import InputError
from training.flat.columns import ColumnPlan
from training.flat.values import as_datetimes, map_label
from training.split import MIN_ROWS_PER_OUTCOME, require_outcomes, time_split

MIN_PER_CLASS = sum(MIN_ROWS_PER_OUTCOME.values())
VALIDATION_SHARE = TEST_SHARE = 0.15


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
        has_time = (
            as_datetimes(frame[plan.time_column], plan.date_format(plan.time_column))
            .notna()
            .to_numpy()
        )
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


# -- split -----------------------------------------------------------------------------------
def split_rows(rows: pd.DataFrame, y: np.ndarray, plan: ColumnPlan, *, seed: int) -> FlatSplit:
    """By time when there is a time column (train oldest, test newest), else stratified random
    (70/15/15, seeded). Each part must hold ``MIN_ROWS_PER_OUTCOME`` rows of each outcome
    (``TooFewRowsError`` names the counts)."""
    positions = np.arange(len(rows))
    if plan.time_column is not None:
        times = as_datetimes(rows[plan.time_column], plan.date_format(plan.time_column)).to_numpy()
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
    require_outcomes(
        f"label column {plan.label!r} ({split.method} split)",
        {part: y[getattr(split, part)] for part in ("train", "validation", "test")},
    )
    return split
