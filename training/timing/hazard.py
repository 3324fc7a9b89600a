"""The discrete-time hazard model: P(converting in week k | not converted before it, features
at the decision time), learned by LightGBM over person-periods.

Right-censoring is what the person-period rows are for (``training.timing.periods``): a lead
still open when the data ends contributes the weeks it was watched, never a guessed label.
The features are those of the decision time only (the feature registry's, cut strictly before
``as_of``, plus the hand-set points); the week enters as a baseline per week:

    logit h(week k | x) = baseline_k + s(x)

``baseline_k`` is the life table's log-odds (conversions in week k over the leads at risk in
it), given to LightGBM as each person-period's starting score (``init_score``), so the trees
learn only ``s(x)``: how much likelier than the average lead this one converts, in every week
alike (proportional odds, the discrete-time analogue of Cox's model). Why not the week as one
more tree input: then scoring a lead walks every tree once per modelled week (13 for 90 days),
while here it walks them once, as the classifier does; on the simulator the week as a tree
input gave the same Brier scores at 30, 60 and 90 days (to 0.001), at 13 times the serving
cost. With too few conversions to learn from, the hazard is the life table alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.model.boosting import binary_params
from training.model.encoding import InputEncoding
from training.timing.periods import person_periods, weeks_for, within

MIN_EVENTS = 20  # fewer conversions among the person-periods: the life table, no trees
UNSTOPPED_TREES = 100  # trees without validation conversions to stop on
_EPS = 1e-6  # a week without conversions: hazard 1e-6, not log-odds -inf

Predict = Callable[[np.ndarray], np.ndarray]


def _is_categorical(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.CategoricalDtype) or (
        not pd.api.types.is_numeric_dtype(column.dtype)
        and not pd.api.types.is_bool_dtype(column.dtype)
    )


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


class HazardModel:
    """Weekly conversion hazards and the horizon probabilities they give.

    Attributes (set by ``fit``):
        horizons_days: the horizons answered, ascending; weeks_: weeks modelled.
        input_encoding_: feature frame or feature arrays -> the float matrix (categories as
            their training level's position), shared by batch scoring and the API.
        life_table_: conversions per week over the leads at risk that week (training rows);
            baseline_: its log-odds, the hazard of the average lead.
        booster_: the trees of ``s(x)``, or None (the life table serves).
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
        at_risk = np.bincount(week, minlength=self.weeks_).astype(np.float64)
        events = np.bincount(week, weights=label, minlength=self.weeks_)
        self.life_table_ = np.divide(events, at_risk, out=np.zeros(self.weeks_), where=at_risk > 0)
        self.baseline_ = _logit(self.life_table_)
        self.booster_, self.best_iteration_ = None, 0
        if self.events_ < MIN_EVENTS or self.events_ == self.periods_:
            return self
        categorical = [self.input_encoding_.level_at[n] for n in self.input_encoding_.levels]
        params = binary_params(self, label.size)
        data = lgb.Dataset(
            self.encode(X)[row],
            label,
            init_score=self.baseline_[week],
            categorical_feature=categorical,
            free_raw_data=True,
        )
        valid_sets, callbacks = [], []
        if eval_set is not None:
            v_row, v_week, v_label = person_periods(eval_set[1], eval_set[2], self.weeks_)
            if 0 < v_label.sum() < v_label.size:
                valid = lgb.Dataset(
                    self.encode(eval_set[0])[v_row],
                    v_label,
                    init_score=self.baseline_[v_week],
                    reference=data,
                )
                valid_sets = [valid]
                callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        rounds = self.n_estimators if valid_sets else min(self.n_estimators, UNSTOPPED_TREES)
        self.booster_ = lgb.train(
            params, data, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks
        )
        self.best_iteration_ = self.booster_.best_iteration or self.booster_.current_iteration()
        return self

    # -- scoring -----------------------------------------------------------------------------
    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """The model's input matrix of a feature frame (other columns ignored)."""
        return self.input_encoding_.matrix(X)

    def encode_columns(self, columns: Mapping[str, Any], n: int) -> np.ndarray:
        """The same matrix from feature arrays by name, as the API holds them."""
        return self.input_encoding_.matrix_of_columns(columns, n)

    def tree_probability(self, matrix: np.ndarray) -> np.ndarray:
        """The trees' output of encoded rows as LightGBM gives it: sigmoid(s(x))."""
        return self.booster_.predict(matrix, num_iteration=self.best_iteration_, num_threads=1)

    def hazards(self, matrix: np.ndarray, predict: Predict | None = None) -> np.ndarray:
        """Weekly hazards (rows x weeks) of encoded rows; ``predict`` stands in for
        ``tree_probability`` (the served trees, however they are computed)."""
        if self.booster_ is None:
            return np.tile(self.life_table_, (len(matrix), 1))
        shift = _logit((predict or self.tree_probability)(matrix))
        return 1.0 / (1.0 + np.exp(-(self.baseline_[None, :] + shift[:, None])))

    def within_matrix(self, matrix: np.ndarray, predict: Predict | None = None) -> np.ndarray:
        """P(converted within each of ``horizons_days``) of encoded rows (rows x horizons)."""
        if len(matrix) == 0:
            return np.zeros((0, len(self.horizons_days)))
        return within(self.hazards(matrix, predict), self.horizons_days)

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
