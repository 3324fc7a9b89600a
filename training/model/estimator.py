"""LightGBM with native categoricals and a calibrator, as one scikit-learn estimator.

Sales teams read the output as a probability ("3 in 10 of these become SQL"), so it must be
calibrated: no resampling or class weights that distort it, and a calibrator (isotonic or
Platt) fitted on the validation rows only when it improves held-out log loss there
(``training.model.calibration``).

Optionally the model starts from the team's hand-set rules (``training.model.prior``): the rule
score, calibrated on the training rows, is the trees' initial log-odds and the trees learn
the correction; a model may also have no trees at all and predict from the rules alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y, column_or_1d

from training.model.boosting import BoostJob, binary_params, boost, threads_for
from training.model.calibration import _CALIBRATORS, choose_calibration
from training.model.encoding import InputEncoding
from training.model.prior import RULES_CONTRIBUTION, RulesPrior, fewest_trees, trees_logit


class LeadConversionModel(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees for one funnel transition, calibrated on validation rows.

    Parameters are LightGBM's usual ones plus ``calibration`` ("auto": chosen by
    ``choose_calibration``; "isotonic", "platt" or "none" to force one), and:

    - ``prior_column``: the input column holding the hand-set points (``hand_set_points``).
      When given, the rules prior (``training.model.prior.RulesPrior``, fitted on the training rows
      at ``prior_strength``) is every row's initial log-odds and the trees learn the
      correction; the column itself is no tree input. Validation then keeps the fewest trees
      whose log loss is within one standard error of the best number's: a correction must
      earn its place, and none may (the prior alone predicts then, as fitted on the training
      rows; ``training.selection`` serves the rules alone calibrated on every row instead).
    - ``n_estimators=0`` with a ``prior_column``: no trees, the calibrated rule score alone
      (the floor for histories with too few conversions to learn from).
    - ``monotone_constraints``: feature name -> +1 or -1, the direction the trees must keep
      (``training.model.prior.monotone_signs`` derives them from the rules).

    Attributes:
        feature_names_in_: the trees' input columns, in order (without ``prior_column``).
        categorical_levels_: per categorical column, the levels seen in training; values not
            in them are treated as missing (never an error), as an unseen CRM value must be.
        booster_: the fitted LightGBM booster (its best iteration), None without trees.
        best_iteration_: the trees used (0: none).
        prior_: the fitted ``RulesPrior``, or None for a model without one.
        trees_: how the number of trees was chosen (early stopping, then with a prior the
            one-standard-error rule: validation log losses and the trees kept).
        calibration_: the chosen calibration method and the validation log losses.
        calibrator_: the fitted calibrator, or None.
        classes_: the two label values; the second is the "converted" class.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 2000,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        feature_fraction: float = 0.8,
        lambda_l2: float = 1.0,
        early_stopping_rounds: int = 100,
        validation_fraction: float = 0.2,
        calibration: str = "auto",
        prior_column: str | None = None,
        prior_strength: float = 1.0,
        monotone_constraints: Mapping[str, int] | None = None,
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.lambda_l2 = lambda_l2
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.calibration = calibration
        self.prior_column = prior_column
        self.prior_strength = prior_strength
        self.monotone_constraints = monotone_constraints
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- preparation -------------------------------------------------------------------------
    def _frame(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            return X
        values = check_array(X, ensure_all_finite="allow-nan", dtype=None)
        if values.ndim != 2:
            raise ValueError(f"Expected a 2D array of features, got shape {values.shape}")
        expected = getattr(self, "n_features_in_", values.shape[1])
        if values.shape[1] != expected:
            raise ValueError(
                f"X has {values.shape[1]} features, but LeadConversionModel is expecting "
                f"{expected} features as input"
            )
        return pd.DataFrame(values, columns=[f"x{i}" for i in range(values.shape[1])])

    def _prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """Columns in training order; categoricals over the training levels; numbers as floats."""
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"missing feature columns: {missing[:5]}")
        out = {}
        for name in self.feature_names_in_:
            column = X[name]
            if name in self.categorical_levels_:
                levels = self.categorical_levels_[name]
                values = column.astype("object")
                values = values.where(values.isin(levels), None)  # unseen -> missing
                out[name] = pd.Categorical(values, categories=levels)
            else:
                out[name] = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy()
        return pd.DataFrame(out, index=X.index)

    @staticmethod
    def _is_categorical(column: pd.Series) -> bool:
        return isinstance(column.dtype, pd.CategoricalDtype) or (
            not pd.api.types.is_numeric_dtype(column.dtype)
            and not pd.api.types.is_bool_dtype(column.dtype)
        )

    def _threads(self, rows: int) -> int:
        return threads_for(rows, self.n_jobs)

    # -- fitting -----------------------------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame | np.ndarray,
        y: np.ndarray | pd.Series,
        *,
        eval_set: tuple[pd.DataFrame, np.ndarray] | None = None,
        on_round: Callable[[int], None] | None = None,
    ) -> LeadConversionModel:
        """Fit on (X, y); early-stop and calibrate on ``eval_set``.

        Without ``eval_set`` the last ``validation_fraction`` of rows is held out: callers
        pass rows in time order, so that is the newest slice, as in ``training.split``.
        ``on_round(n)`` is called after each boosting round with the rounds done so far (at
        most ``n_estimators``; early stopping ends sooner), for a progress display.
        """
        if not isinstance(X, pd.DataFrame):
            X, y = check_X_y(X, y, ensure_all_finite="allow-nan", dtype=None)
            self.__dict__.pop("n_features_in_", None)
        X = self._frame(X)
        y = column_or_1d(y, warn=True)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError("the label has one class only; a classifier needs both")
        if len(classes) > 2:
            raise ValueError(
                f"Only binary classification is supported (converted or not); "
                f"got {len(classes)} classes"
            )
        y = (y == classes[1]).astype(int)
        if eval_set is None:
            cut = max(1, int(len(y) * (1 - self.validation_fraction)))
            X, X_val, y, y_val = X.iloc[:cut], X.iloc[cut:], y[:cut], y[cut:]
        else:
            X_val = self._frame(eval_set[0])
            y_val = (column_or_1d(eval_set[1]) == classes[1]).astype(int)
        points = val_points = None
        n_inputs = X.shape[1]
        if self.prior_column is not None:
            X, points = self._split_points(X)
            X_val, val_points = self._split_points(X_val)
        elif self.n_estimators == 0:
            raise ValueError("n_estimators=0 needs a prior_column: without trees only the prior")
        if X.shape[1] == 0 and self.n_estimators > 0:
            raise ValueError(
                f"{n_inputs} feature(s), none besides the prior column {self.prior_column!r}: "
                "the trees need inputs"
            )
        self.feature_names_in_ = np.array([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = n_inputs
        self.categorical_levels_ = {
            name: sorted(str(v) for v in X[name].dropna().unique())
            for name in self.feature_names_in_
            if self._is_categorical(X[name])
        }
        self.input_encoding_ = InputEncoding.of(self.feature_names_in_, self.categorical_levels_)
        self.classes_ = classes
        self.calibrator_ = None
        self.calibration_ = {"chosen": "none", "validation_log_loss": {}}
        self.prior_ = None
        if self.n_estimators == 0:
            self._rules_only(np.r_[points, val_points], np.r_[y, y_val])
            self.trees_ = {"rule": "no trees (n_estimators=0)", "trees": 0}
            return self
        has_validation = len(y_val) > 0 and len(np.unique(y_val)) == 2
        start = val_start = None
        if self.prior_column is not None:
            self.prior_ = RulesPrior.fit(points, y, self.prior_strength)
            start, val_start = self.prior_.logit(points), self.prior_.logit(val_points)
        self.booster_ = self._boost(X, y, X_val, y_val, start, val_start, has_validation, on_round)
        self.best_iteration_ = self.booster_.best_iteration or self.booster_.current_iteration()
        self.trees_ = {"rule": "early stopping", "trees": self.best_iteration_}
        if self.prior_ is not None and has_validation:
            self.trees_ = self._fewest_trees(self.encode(X_val), y_val, val_start)
            if self.trees_["trees"] == 0:  # no correction earned its place: the prior alone
                self.booster_, self.best_iteration_ = None, 0
                return self
            self.best_iteration_ = self.trees_["trees"]
        if has_validation:
            raw = self.with_prior(self.raw_probability(self.encode(X_val)), val_points)
            if self.calibration == "auto":
                self.calibration_ = choose_calibration(raw, y_val, one_se=self.prior_ is not None)
            else:
                self.calibration_ = {"chosen": self.calibration, "validation_log_loss": {}}
            if self.calibration_["chosen"] != "none":
                self.calibrator_ = _CALIBRATORS[self.calibration_["chosen"]]().fit(raw, y_val)
        return self

    def _split_points(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """(the tree inputs, the hand-set points) of a frame holding ``prior_column``."""
        return X.drop(columns=[self.prior_column]), self.prior_points(X)

    def _boost(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame,
        y_val: np.ndarray,
        start: np.ndarray | None,
        val_start: np.ndarray | None,
        has_validation: bool,
        on_round: Callable[[int], None] | None = None,
    ) -> lgb.Booster:
        """The trees, from ``start`` log-odds when given (LightGBM's ``init_score``: then no
        average is boosted from, the trees hold only the correction), early-stopped on the
        validation rows when they hold both outcomes."""
        params = binary_params(self, len(y))
        if self.monotone_constraints:
            signs = self.monotone_constraints
            params["monotone_constraints"] = [
                0 if name in self.categorical_levels_ else int(signs.get(name, 0))
                for name in self.feature_names_in_
            ]
        return boost(
            BoostJob(
                params=params,
                X=self._prepare(X),
                y=y,
                init_score=start,
                X_val=self._prepare(X_val) if has_validation else None,
                y_val=y_val if has_validation else None,
                val_init_score=val_start if has_validation else None,
                rounds=self.n_estimators,
                early_stopping_rounds=self.early_stopping_rounds,
                on_round=on_round,
            )
        )

    def _fewest_trees(self, matrix: np.ndarray, y: np.ndarray, start: np.ndarray) -> dict:
        """``training.model.prior.fewest_trees`` of the early-stopped trees on validation rows."""
        booster, threads = self.booster_, self._threads(len(matrix))
        best = start + booster.predict(matrix, num_iteration=self.best_iteration_, raw_score=True)
        return fewest_trees(
            y,
            start,
            lambda k: booster.predict(
                matrix, start_iteration=k, num_iteration=1, raw_score=True, num_threads=threads
            ),
            best,
            self.best_iteration_,
        )

    def _rules_only(self, points: np.ndarray, y: np.ndarray) -> None:
        """No trees: the rule score calibrated on every row given (no rows are needed to stop
        trees early)."""
        self.prior_ = RulesPrior.fit(points, y, self.prior_strength)
        self.booster_ = None
        self.best_iteration_ = 0

    # -- prediction --------------------------------------------------------------------------
    def __setstate__(self, state: dict) -> None:
        state.setdefault("prior_column", None)  # models pickled before the rules prior
        state.setdefault("prior_strength", 1.0)
        state.setdefault("monotone_constraints", None)
        if "booster_" in state:
            state.setdefault("prior_", None)
        super().__setstate__(state)
        if "booster_" in state:  # derived state: rebuilt, so older pickles get today's encoder
            self.input_encoding_ = InputEncoding.of(
                self.feature_names_in_, self.categorical_levels_
            )

    def encode(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The booster's float64 input matrix of ``X`` (the one encoder of every prediction):
        columns in training order, a categorical as its training level's position, unseen or
        missing values as NaN."""
        check_is_fitted(self, "booster_")
        return self.input_encoding_.matrix(self._frame(X))

    def encode_columns(self, columns: Mapping[str, Any], n: int) -> np.ndarray:
        """``encode`` of the frame these feature arrays would make (see
        ``InputEncoding.matrix_of_columns``)."""
        check_is_fitted(self, "booster_")
        return self.input_encoding_.matrix_of_columns(columns, n)

    def prior_points(self, X: pd.DataFrame) -> np.ndarray | None:
        """The hand-set points of ``X``'s rows (its ``prior_column``), None for a model
        without the rules prior."""
        if self.prior_column is None:
            return None
        if self.prior_column not in X.columns:
            raise ValueError(f"missing column {self.prior_column!r}: the model starts from it")
        points = pd.to_numeric(X[self.prior_column], errors="coerce").to_numpy(np.float64)
        if np.isnan(points).any():
            raise ValueError(
                f"{self.prior_column}: {int(np.isnan(points).sum())} missing or non-numeric "
                "values; the rules prior needs every row's hand-set points"
            )
        return points

    def raw_probability(self, matrix: np.ndarray) -> np.ndarray:
        """The trees' probability (before the prior and calibration) of an ``encode``d
        matrix; 0.5 (log-odds 0) for a model without trees."""
        if self.booster_ is None:
            return np.full(len(matrix), 0.5)
        return self.booster_.predict(
            matrix, num_iteration=self.best_iteration_, num_threads=self._threads(len(matrix))
        )

    def with_prior(self, raw: np.ndarray, points: np.ndarray | None) -> np.ndarray:
        """The trees' probability ``raw`` moved by the rules prior's log-odds of ``points``
        (unchanged without a prior). Offline and served predictions form it here alike."""
        if self.prior_ is None:
            return raw
        if points is None:
            raise ValueError(f"the model starts from the hand-set rules: {self.prior_column}")
        return expit(trees_logit(raw) + self.prior_.logit(points))

    def calibrated(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from ``raw_probability`` (``with_prior``)."""
        return self.calibrator_.predict(raw) if self.calibrator_ is not None else raw

    def contribution_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """The trees' SHAP values on the log-odds of an ``encode``d matrix: one column per
        input, bias last (all 0 without trees; the prior is not in them, see
        ``contributions``)."""
        if self.booster_ is None:
            return np.zeros((len(matrix), len(self.feature_names_in_) + 1))
        return self.booster_.predict(
            matrix,
            num_iteration=self.best_iteration_,
            pred_contrib=True,
            num_threads=self._threads(len(matrix)),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = False
        return tags

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        X = self._frame(X)
        raw = self.raw_probability(self.encode(X))
        p = self.calibrated(self.with_prior(raw, self.prior_points(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        check_is_fitted(self, "booster_")
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """SHAP contributions of each feature to the raw log-odds (before calibration), plus
        ``bias``: what pushes a lead's probability up or down, and by how much. With the rules
        prior, ``your_rules`` is its push (its mean is in ``bias``), so a row still sums to
        its log-odds."""
        values = self.contribution_matrix(self.encode(X))
        out = pd.DataFrame(values, columns=[*self.feature_names_in_, "bias"], index=X.index)
        if self.prior_ is not None:
            out.insert(len(self.feature_names_in_), RULES_CONTRIBUTION, 0.0)
            out[RULES_CONTRIBUTION] = self.prior_.contribution(self.prior_points(X))
            out["bias"] += self.prior_.mean_logit
        return out

    def gain_importance(self) -> pd.Series:
        check_is_fitted(self, "booster_")
        if self.booster_ is None:
            return pd.Series(0.0, index=self.feature_names_in_)
        gain = self.booster_.feature_importance("gain", iteration=self.best_iteration_)
        return pd.Series(gain, index=self.feature_names_in_).sort_values(ascending=False)
