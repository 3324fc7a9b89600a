"""One-row-per-lead exports (a CRM table with a converted flag): column typing, label mapping,
leak refusal and the split, as pure functions over DataFrames.

Many teams have no event history, only such an export. It is full of traps a model happily
learns from: ids, free-text notes, dates, and above all columns filled *after* the outcome
("lead quality", "status", "days to close"). Those make a model look perfect in testing and
useless on new leads, so they are refused unless the user vouches for them by name.

Each step has its own module, with its decisions in its docstring and constants:
``values`` (reading the file, the label as 0/1, numbers, dates, text), ``columns``
(column typing: the ``ColumnPlan`` and the model inputs), ``leaks`` (leak detection and
refusal, suspects) and ``split`` (usable rows and the split). Their public names are re-exported
here, so callers import from ``training.flat.table``. ``FlatScorer`` stays here: registered
models pickle it, and older ones find ``ColumnPlan`` here too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.flat.columns import (
    FREE_TEXT_DISTINCT_SHARE,
    FREE_TEXT_MIN_DISTINCT,
    ID_MIN_ROWS,
    MAX_LEVELS,
    OTHER_LEVEL,
    TYPE_SAMPLE_ROWS,
    ColumnPlan,
    flat_features,
    infer_columns,
)
from training.flat.leaks import (
    EXACT_MAX_LEVELS,
    LEAK_AUC,
    LEAK_FOLDS,
    MOST_GAIN_SHARE,
    TARGET_SMOOTHING,
    Leak,
    find_leaky_columns,
    find_suspects,
    gain_suspect,
    refuse_leaks,
)
from training.flat.split import (
    MIN_PER_CLASS,
    TEST_SHARE,
    VALIDATION_SHARE,
    FlatSplit,
    split_rows,
    usable_rows,
)
from training.flat.values import (
    PARSE_SHARE,
    as_datetimes,
    as_numbers,
    as_text,
    map_label,
    read_flat_table,
)
from training.model import LeadConversionModel

__all__ = [
    "EXACT_MAX_LEVELS",
    "FREE_TEXT_DISTINCT_SHARE",
    "FREE_TEXT_MIN_DISTINCT",
    "ID_MIN_ROWS",
    "LEAK_AUC",
    "LEAK_FOLDS",
    "MAX_LEVELS",
    "MIN_PER_CLASS",
    "MOST_GAIN_SHARE",
    "OTHER_LEVEL",
    "PARSE_SHARE",
    "TARGET_SMOOTHING",
    "TEST_SHARE",
    "TYPE_SAMPLE_ROWS",
    "VALIDATION_SHARE",
    "ColumnPlan",
    "FlatScorer",
    "FlatSplit",
    "Leak",
    "as_datetimes",
    "as_numbers",
    "as_text",
    "find_leaky_columns",
    "find_suspects",
    "flat_features",
    "gain_suspect",
    "infer_columns",
    "map_label",
    "read_flat_table",
    "refuse_leaks",
    "split_rows",
    "usable_rows",
]


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
