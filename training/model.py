"""LightGBM with native categoricals and a calibrator, as one scikit-learn estimator.

Sales teams read the output as a probability ("3 in 10 of these become SQL"), so it must be
calibrated: no resampling or class weights that distort it, and a calibrator (isotonic or
Platt) fitted on the validation rows only when it improves held-out log loss there.
"""

from __future__ import annotations

import os

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y, column_or_1d

_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class _Platt:
    """Logistic recalibration of the raw probability's log-odds."""

    def fit(self, p: np.ndarray, y: np.ndarray) -> _Platt:
        self.model_ = LogisticRegression(C=1e6).fit(_logit(p).reshape(-1, 1), y)
        return self

    def predict(self, p: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(_logit(p).reshape(-1, 1))[:, 1]


class _Isotonic:
    def fit(self, p: np.ndarray, y: np.ndarray) -> _Isotonic:
        self.model_ = IsotonicRegression(y_min=_EPS, y_max=1 - _EPS, out_of_bounds="clip")
        self.model_.fit(p, y)
        return self

    def predict(self, p: np.ndarray) -> np.ndarray:
        return self.model_.predict(p)


_CALIBRATORS = {"isotonic": _Isotonic, "platt": _Platt}


def choose_calibration(p: np.ndarray, y: np.ndarray, *, min_gain: float = 1e-4) -> dict:
    """Cross-fitted check on validation rows: does a calibrator lower log loss?

    Each candidate is fitted on one half and scored on the other (both ways), so the choice
    is not flattered by fitting and judging on the same rows. Returns the log losses and the
    chosen method ("none" unless one beats the raw model by ``min_gain``).
    """
    halves = np.arange(len(y)) % 2 == 0
    scores = {"none": log_loss(y, np.clip(p, _EPS, 1 - _EPS), labels=[0, 1])}
    if len(np.unique(y[halves])) == 2 and len(np.unique(y[~halves])) == 2:
        for name, calibrator in _CALIBRATORS.items():
            out = np.empty_like(p)
            for fit_on in (halves, ~halves):
                out[~fit_on] = calibrator().fit(p[fit_on], y[fit_on]).predict(p[~fit_on])
            scores[name] = log_loss(y, np.clip(out, _EPS, 1 - _EPS), labels=[0, 1])
    best = min(scores, key=scores.get)
    chosen = best if scores["none"] - scores[best] > min_gain else "none"
    return {"chosen": chosen, "validation_log_loss": scores}


class LeadConversionModel(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees for one funnel transition, calibrated on validation rows.

    Parameters are LightGBM's usual ones plus ``calibration`` ("auto": chosen by
    ``choose_calibration``; "isotonic", "platt" or "none" to force one).

    Attributes:
        feature_names_in_: input columns, in order.
        categorical_levels_: per categorical column, the levels seen in training; values not
            in them are treated as missing (never an error), as an unseen CRM value must be.
        booster_: the fitted LightGBM booster (its best iteration).
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
        """Threads for LightGBM: one below ~100k rows, where thread overhead outweighs the
        gain (4x slower with two threads on a busy 2-core machine, measured), else all cores."""
        if self.n_jobs is not None:
            return self.n_jobs
        return 1 if rows < 100_000 else max(1, os.cpu_count() or 1)

    # -- fitting -----------------------------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame | np.ndarray,
        y: np.ndarray | pd.Series,
        *,
        eval_set: tuple[pd.DataFrame, np.ndarray] | None = None,
    ) -> LeadConversionModel:
        """Fit on (X, y); early-stop and calibrate on ``eval_set``.

        Without ``eval_set`` the last ``validation_fraction`` of rows is held out: callers
        pass rows in time order, so that is the newest slice, as in ``training.split``.
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
        self.feature_names_in_ = np.array([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.categorical_levels_ = {
            name: sorted(str(v) for v in X[name].dropna().unique())
            for name in self.feature_names_in_
            if self._is_categorical(X[name])
        }
        train_x, val_x = self._prepare(X), self._prepare(X_val)
        params = {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "lambda_l2": self.lambda_l2,
            "seed": self.random_state,
            "deterministic": True,
            "num_threads": self._threads(len(y)),
            "verbosity": -1,
        }
        train_data = lgb.Dataset(train_x, y, free_raw_data=True)
        callbacks = []
        valid_sets = []
        if len(y_val) and len(np.unique(y_val)) == 2:
            valid_sets = [lgb.Dataset(val_x, y_val, reference=train_data)]
            callbacks.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
        self.booster_ = lgb.train(
            params,
            train_data,
            num_boost_round=self.n_estimators,
            valid_sets=valid_sets,
            callbacks=callbacks,
        )
        self.best_iteration_ = self.booster_.best_iteration or self.booster_.current_iteration()
        self.classes_ = classes
        self.calibrator_ = None
        self.calibration_ = {"chosen": "none", "validation_log_loss": {}}
        if valid_sets:
            raw = self._raw_probability(val_x)
            if self.calibration == "auto":
                self.calibration_ = choose_calibration(raw, y_val)
            else:
                self.calibration_ = {"chosen": self.calibration, "validation_log_loss": {}}
            if self.calibration_["chosen"] != "none":
                self.calibrator_ = _CALIBRATORS[self.calibration_["chosen"]]().fit(raw, y_val)
        return self

    # -- prediction --------------------------------------------------------------------------
    def _raw_probability(self, prepared: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(prepared, num_iteration=self.best_iteration_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = False
        return tags

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        check_is_fitted(self, "booster_")
        p = self._raw_probability(self._prepare(self._frame(X)))
        if self.calibrator_ is not None:
            p = self.calibrator_.predict(p)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        check_is_fitted(self, "booster_")
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """SHAP contributions of each feature to the raw log-odds (before calibration), plus
        ``bias``: what pushes a lead's probability up or down, and by how much."""
        check_is_fitted(self, "booster_")
        values = self.booster_.predict(
            self._prepare(self._frame(X)), num_iteration=self.best_iteration_, pred_contrib=True
        )
        return pd.DataFrame(values, columns=[*self.feature_names_in_, "bias"], index=X.index)

    def gain_importance(self) -> pd.Series:
        check_is_fitted(self, "booster_")
        gain = self.booster_.feature_importance("gain", iteration=self.best_iteration_)
        return pd.Series(gain, index=self.feature_names_in_).sort_values(ascending=False)
