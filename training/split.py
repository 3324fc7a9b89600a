"""Time-based train/validation/test split.

A model is used on leads that arrive after it was trained, so it is judged the same way:
train on the older decision times, validate and test on newer ones. A random split across
time would let the model learn from the future (seasonality, campaign mix, drift) and
overstate every metric. Rows sharing a decision time never straddle two parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from core.errors import InputError, TooFewRowsError
from features.build import TrainingSet

# The fewest rows of each outcome (converted, not converted) a part of the split needs. Training
# needs both outcomes to learn any difference between them; validation chooses the number of
# trees and the calibrator; the test part judges the model against the hand-set rules and gates
# the champion, and with fewer than five rows of an outcome one row moves its ROC-AUC by a fifth.
MIN_ROWS_PER_OUTCOME: dict[str, int] = {"train": 10, "validation": 5, "test": 5}
# Below this many converted rows in a training set no model is learned: the hand-set score,
# calibrated to probabilities, is served instead (``floor_reason``; LEADSCORE_MIN_POSITIVES).
MIN_POSITIVES = 20
# What that calibration (two numbers) needs among the rows it is fitted on (train + validation).
FLOOR_PART = "train and validation"
FLOOR_ROWS_PER_OUTCOME = 2


@dataclass(frozen=True)
class TimeSplit:
    """Attributes:
    train, validation, test: disjoint row sets, each later in time than the one before.
    boundaries: first decision time of validation and of test.
    """

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    boundaries: tuple[pd.Timestamp, pd.Timestamp]

    def parts(self) -> dict[str, pd.DataFrame]:
        return {"train": self.train, "validation": self.validation, "test": self.test}

    def with_column(self, name: str, values: Mapping[str, ArrayLike]) -> TimeSplit:
        """The same split with a column ``name`` added to each part (``values`` by part)."""
        parts = {
            part: rows.assign(**{name: np.asarray(values[part])})
            for part, rows in self.parts().items()
        }
        return TimeSplit(**parts, boundaries=self.boundaries)

    def describe(self) -> dict[str, object]:
        return {
            "train_rows": len(self.train),
            "validation_rows": len(self.validation),
            "test_rows": len(self.test),
            "validation_from": str(self.boundaries[0]),
            "test_from": str(self.boundaries[1]),
        }


def time_split(
    frame: pd.DataFrame,
    *,
    time_column: str = "decision_time",
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> TimeSplit:
    """Split by quantiles of ``time_column``: oldest for training, newest for testing."""
    if not 0 < validation_fraction < 1 or not 0 < test_fraction < 1:
        raise InputError("validation and test fractions must lie between 0 and 1")
    if validation_fraction + test_fraction >= 1:
        raise InputError("validation and test fractions must leave rows for training")
    times = pd.to_datetime(frame[time_column])
    order = np.argsort(times.to_numpy(), kind="stable")
    ordered = frame.iloc[order]
    sorted_times = times.to_numpy()[order]
    n = len(frame)
    test_at = sorted_times[min(n - 1, int(n * (1 - test_fraction)))]
    validation_at = sorted_times[min(n - 1, int(n * (1 - test_fraction - validation_fraction)))]
    is_test = sorted_times >= test_at
    is_validation = (sorted_times >= validation_at) & ~is_test
    is_train = ~(is_test | is_validation)
    if not (is_train.any() and is_validation.any() and is_test.any()):
        raise InputError(
            f"{time_column}: too few distinct times ({len(np.unique(sorted_times))}) "
            "to split into train, validation and test"
        )
    return TimeSplit(
        train=ordered[is_train],
        validation=ordered[is_validation],
        test=ordered[is_test],
        boundaries=(pd.Timestamp(validation_at), pd.Timestamp(test_at)),
    )


def outcome_counts(labels: ArrayLike) -> tuple[int, int]:
    """(converted, not converted) rows among 0/1 ``labels``."""
    y = np.asarray(labels)
    converted = int((y == 1).sum())
    return converted, int(y.size) - converted


def require_outcomes(
    subject: str,
    parts: Mapping[str, ArrayLike],
    minimum: Mapping[str, int] = MIN_ROWS_PER_OUTCOME,
) -> None:
    """Raise ``TooFewRowsError`` (naming ``subject`` and every part's counts) unless each part
    of the split holds at least ``minimum[part]`` converted and as many unconverted rows."""
    counts = {part: outcome_counts(labels) for part, labels in parts.items()}
    if any(min(counts[part]) < minimum[part] for part in counts):
        raise TooFewRowsError(subject, counts, {part: minimum[part] for part in counts})


def floor_reason(split: TimeSplit, min_positives: int = MIN_POSITIVES) -> str | None:
    """Why no model can be learned from ``split`` (so the calibrated hand-set score serves), or
    None: fewer than ``min_positives`` converted rows in all, or a part of the split with fewer
    rows of an outcome than ``MIN_ROWS_PER_OUTCOME`` asks."""
    counts = {part: outcome_counts(rows["label"]) for part, rows in split.parts().items()}
    return floor_reason_of(counts, min_positives)


def floor_reason_of(counts: Mapping[str, tuple[int, int]], min_positives: int) -> str | None:
    """``floor_reason`` from (converted, not converted) rows per part of a split."""
    converted = sum(c for c, _ in counts.values())
    if converted < min_positives:
        return f"{converted} converted rows, fewer than the {min_positives} needed to learn from"
    for part, (yes, no) in counts.items():
        need = MIN_ROWS_PER_OUTCOME[part]
        if min(yes, no) < need:
            return (
                f"the time split leaves {part} {yes}/{no} converted/not converted rows; a "
                f"learned model needs {need}/{need}"
            )
    return None


def require_floor_rows(subject: str, split: TimeSplit) -> None:
    """Raise ``TooFewRowsError`` unless the rows the floor calibrates on (train + validation)
    hold ``FLOOR_ROWS_PER_OUTCOME`` of each outcome."""
    labels = np.r_[split.train["label"].to_numpy(), split.validation["label"].to_numpy()]
    require_outcomes(subject, {FLOOR_PART: labels}, {FLOOR_PART: FLOOR_ROWS_PER_OUTCOME})


def split_for_training(training_set: TrainingSet, min_positives: int = MIN_POSITIVES) -> TimeSplit:
    """The time split of a training set, checked before anything is fitted or logged. A model
    is learned when the set has ``min_positives`` converted rows and each part of the split
    ``MIN_ROWS_PER_OUTCOME`` rows of each outcome; otherwise the hand-set score is calibrated
    on train + validation, which needs ``FLOOR_ROWS_PER_OUTCOME`` of each (``TooFewRowsError``
    names the counts). The command line checks every transition this way before training."""
    transition = training_set.manifest["transition"]
    frame = training_set.frame
    if len(frame) == 0:
        empty = np.zeros(0, dtype=int)
        require_outcomes(transition, dict.fromkeys(MIN_ROWS_PER_OUTCOME, empty))
    split = time_split(frame)
    if floor_reason(split, min_positives) is not None:
        require_floor_rows(transition, split)
    return split


@dataclass(frozen=True)
class SkippedTransition:
    """A transition whose history cannot give even the floor (the calibrated hand-set score),
    so a run trains the others without it, as when a team exports its marketing side only
    (MQLs and SQLs, no won or lost deals).

    Attributes:
        transition: which one.
        reason: the ``TooFewRowsError`` message: each part's counts and the minimum it needs.
        counts, minimum: the same as numbers, per part (converted, not converted) and needed.
    """

    transition: str
    reason: str
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    minimum: dict[str, int] = field(default_factory=dict)

    def describe(self) -> dict[str, object]:
        """The JSON a run prints for it (``leadscore train --json``)."""
        return {
            "skipped": self.reason,
            "counts": {part: list(pair) for part, pair in self.counts.items()},
            "needs": self.minimum,
        }


def trainable_sets(
    sets: Mapping[str, TrainingSet], min_positives: int = MIN_POSITIVES
) -> tuple[dict[str, TrainingSet], list[SkippedTransition]]:
    """The training sets that can give at least the floor (``split_for_training``), and the
    others as ``SkippedTransition``; checked before anything is fitted or logged. Raises the
    first ``TooFewRowsError`` when none can be trained: then there is nothing to run."""
    kept: dict[str, TrainingSet] = {}
    skipped: list[SkippedTransition] = []
    first: TooFewRowsError | None = None
    for name, training_set in sets.items():
        try:
            split_for_training(training_set, min_positives)
        except TooFewRowsError as error:
            first = first or error
            skipped.append(SkippedTransition(name, str(error), error.counts, error.minimum))
        else:
            kept[name] = training_set
    if not kept and first is not None:
        raise first
    return kept, skipped
