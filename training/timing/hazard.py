"""The discrete-time hazard model: P(converting in week k | not converted before it, features
at the decision time), one LightGBM binary classifier over person-periods with the week as one
more input.

Right-censoring is what the person-period rows are for (``training.timing.periods``): a lead
still open when the data ends contributes the weeks it was watched, never a guessed label.
The features are those of the decision time only (the feature registry's, cut strictly before
``as_of``, plus the hand-set points), so the week index is the only thing that moves along a
lead's rows. With too few conversions to learn from, the hazard is the life table (the
conversions per week over the leads at risk that week, the same for every lead).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.model.encoding import InputEncoding
from training.timing.periods import person_periods, weeks_for, within

MIN_EVENTS = 20  # fewer conversions among the person-periods: the life table, no trees
WEEK = "week_at_risk"


def _is_categorical(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.CategoricalDtype) or (
        not pd.api.types.is_numeric_dtype(column.dtype)
        and not pd.api.types.is_bool_dtype(column.dtype)
    )


class HazardModel:
    """Weekly conversion hazards and the horizon probabilities they give.

    Attributes (set by ``fit``):
        horizons_days: the horizons answered, ascending; weeks_: weeks modelled.
        input_encoding_: feature frame or feature arrays -> the float matrix (categories as
            their training level's position), shared by batch scoring and the API.
        booster_: the LightGBM trees over [inputs, week], or None (life table).
        life_table_: the hazard per week when there are no trees.
        best_iteration_: trees kept by early stopping; events_, periods_: conversions and
            person-periods trained on.
    """

    def __init__(
        self,
        horizons_days: Sequence[int] = (30, 60, 90),
        *,
        n_estimators: int = 600,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 1000,  # person-periods: ~13 rows per lead share its features
        feature_fraction: float = 0.8,
        lambda_l2: float = 10.0,
        early_stopping_rounds: int = 40,
        random_state: int = 0,
    ) -> None:
        self.horizons_days = tuple(sorted(int(h) for h in horizons_days))
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.lambda_l2 = lambda_l2
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state

    # -- fitting -----------------------------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame,
        converted_days: np.ndarray,
        observed_days: np.ndarray,
        *,
        eval_set: tuple[pd.DataFrame, np.ndarray, np.ndarray] | None = None,
    ) -> HazardModel:
        """Fit on decision rows ``X`` (features at the decision time) and their follow-up;
        early-stop on ``eval_set`` (rows, converted_days, observed_days) when it has
        conversions."""
        self.weeks_ = weeks_for(self.horizons_days)
        names = [str(c) for c in X.columns]
        levels = {
            name: sorted(str(v) for v in X[name].dropna().unique())
            for name in names
            if _is_categorical(X[name])
        }
        self.input_encoding_ = InputEncoding.of(names, levels)
        row, week, label = person_periods(converted_days, observed_days, self.weeks_)
        self.events_, self.periods_ = int(label.sum()), int(label.size)
        self.life_table_ = self._life_table(week, label)
        self.booster_, self.best_iteration_ = None, 0
        if self.events_ < MIN_EVENTS or self.events_ == self.periods_:
            return self
        train = self._periods(self.encode(X), row, week)
        categorical = [self.input_encoding_.level_at[n] for n in self.input_encoding_.levels]
        params = {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "lambda_l2": self.lambda_l2,
            "seed": self.random_state,
            "deterministic": True,
            "num_threads": 1 if label.size < 100_000 else max(1, os.cpu_count() or 1),
            "verbosity": -1,
        }
        data = lgb.Dataset(train, label, categorical_feature=categorical, free_raw_data=True)
        valid_sets, callbacks = [], []
        if eval_set is not None:
            v_row, v_week, v_label = person_periods(eval_set[1], eval_set[2], self.weeks_)
            if 0 < v_label.sum() < v_label.size:
                valid = self._periods(self.encode(eval_set[0]), v_row, v_week)
                valid_sets = [lgb.Dataset(valid, v_label, reference=data)]
                callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        self.booster_ = lgb.train(
            params,
            data,
            num_boost_round=self.n_estimators,
            valid_sets=valid_sets,
            callbacks=callbacks,
        )
        self.best_iteration_ = self.booster_.best_iteration or self.booster_.current_iteration()
        return self

    def _life_table(self, week: np.ndarray, label: np.ndarray) -> np.ndarray:
        at_risk = np.bincount(week, minlength=self.weeks_).astype(np.float64)
        events = np.bincount(week, weights=label, minlength=self.weeks_)
        return np.divide(events, at_risk, out=np.zeros(self.weeks_), where=at_risk > 0)

    @staticmethod
    def _periods(matrix: np.ndarray, row: np.ndarray, week: np.ndarray) -> np.ndarray:
        return np.column_stack([matrix[row], week.astype(np.float64)])

    # -- scoring -----------------------------------------------------------------------------
    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """The model's input matrix of a feature frame (other columns ignored)."""
        return self.input_encoding_.matrix(X)

    def encode_columns(self, columns: Mapping[str, Any], n: int) -> np.ndarray:
        """The same matrix from feature arrays by name, as the API holds them."""
        return self.input_encoding_.matrix_of_columns(columns, n)

    def hazards(self, matrix: np.ndarray) -> np.ndarray:
        """Weekly hazards (rows x weeks) of encoded rows."""
        n = len(matrix)
        if self.booster_ is None:
            return np.tile(self.life_table_, (n, 1))
        weeks = np.tile(np.arange(self.weeks_, dtype=np.float64), n)
        expanded = np.column_stack([np.repeat(matrix, self.weeks_, axis=0), weeks])
        p = self.booster_.predict(expanded, num_iteration=self.best_iteration_, num_threads=1)
        return p.reshape(n, self.weeks_)

    def within_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """P(converted within each of ``horizons_days``) of encoded rows (rows x horizons)."""
        if len(matrix) == 0:
            return np.zeros((0, len(self.horizons_days)))
        return within(self.hazards(matrix), self.horizons_days)

    def within(self, X: pd.DataFrame) -> np.ndarray:
        """``within_matrix`` of a feature frame."""
        return self.within_matrix(self.encode(X))

    def describe(self) -> dict[str, Any]:
        """What was fitted, for the run's params."""
        return {
            "horizons_days": ",".join(str(h) for h in self.horizons_days),
            "weeks": self.weeks_,
            "kind": "lightgbm" if self.booster_ is not None else "life_table",
            "trees": self.best_iteration_,
            "events": self.events_,
            "person_periods": self.periods_,
        }
