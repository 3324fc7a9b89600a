"""LightGBM with native categoricals and a calibrator, as one scikit-learn estimator.

Sales teams read the output as a probability ("3 in 10 of these become SQL"), so it must be
calibrated: no resampling or class weights that distort it, and a calibrator (isotonic or
Platt) fitted on the validation rows only when it improves held-out log loss there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y, column_or_1d

_EPS = 1e-6
_FEW_ROWS = 64  # below this a dict lookup per value is faster than pandas' get_indexer


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class _Platt:
    """Logistic recalibration of the raw probability's log-odds."""

    def fit(self, p: np.ndarray, y: np.ndarray) -> _Platt:
        self.model_ = LogisticRegression(C=1e6).fit(_logit(p).reshape(-1, 1), y)
        return self

    def predict(self, p: np.ndarray) -> np.ndarray:
        # LogisticRegression.predict_proba's arithmetic without its input checks, which cost
        # more than the arithmetic for the one row an API call scores (a test pins equality)
        model = self.model_
        return expit(_logit(p) * model.coef_[0, 0] + model.intercept_[0])


class _Isotonic:
    def fit(self, p: np.ndarray, y: np.ndarray) -> _Isotonic:
        self.model_ = IsotonicRegression(y_min=_EPS, y_max=1 - _EPS, out_of_bounds="clip")
        self.model_.fit(p, y)
        return self

    def predict(self, p: np.ndarray) -> np.ndarray:
        # IsotonicRegression.predict (clip, then linear interpolation between the thresholds)
        # without its input checks (a test pins equality)
        model = self.model_
        clipped = np.clip(p, model.X_min_, model.X_max_)
        return np.interp(clipped, model.X_thresholds_, model.y_thresholds_)


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


@dataclass(frozen=True)
class InputEncoding:
    """How a feature frame becomes the booster's input matrix, without per-column pandas work.

    Numbers become float64 and a categorical its position among the training levels, with
    unseen or missing values as NaN: what ``LeadConversionModel._prepare`` plus LightGBM's own
    pandas conversion produce at fit time (a test pins the equality), at a fraction of the cost.

    Attributes:
        names: the model's inputs in order (``feature_names_in_``).
        numeric: numeric input names, and ``numeric_at`` their positions in ``names``.
        levels: per categorical input, its training levels as an index.
        level_at: per categorical input, its position in ``names``.
    """

    names: tuple[str, ...]
    numeric: tuple[str, ...]
    numeric_at: np.ndarray
    levels: dict[str, pd.Index]
    level_at: dict[str, int]
    position: dict[str, dict[str, int]]
    # per (input, categorical dtype): each category's level position; derived, filled on use
    _lookups: dict[tuple[str, pd.CategoricalDtype], np.ndarray] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def of(cls, names: Sequence[str], categorical_levels: dict[str, list[str]]) -> InputEncoding:
        names = tuple(str(n) for n in names)
        levels = {
            n: pd.Index(categorical_levels[n], dtype=object)
            for n in names
            if n in categorical_levels
        }
        numeric = tuple(n for n in names if n not in levels)
        return cls(
            names=names,
            numeric=numeric,
            numeric_at=np.array([names.index(n) for n in numeric], dtype=np.intp),
            levels=levels,
            level_at={n: names.index(n) for n in levels},
            position={n: {v: i for i, v in enumerate(lv)} for n, lv in levels.items()},
        )

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        """The float64 matrix of ``X``'s model inputs (other columns are ignored)."""
        at = X.columns.get_indexer(self.names)
        if (at < 0).any():
            missing = [n for n, i in zip(self.names, at, strict=True) if i < 0]
            raise ValueError(f"missing feature columns: {missing[:5]}")
        out = np.empty((len(X), len(self.names)), dtype=np.float64)
        # one take of all numeric columns (a block per dtype), not a Series per column
        numbers = X.iloc[:, at[self.numeric_at]]
        if all(pd.api.types.is_numeric_dtype(d) for d in set(numbers.dtypes)):
            out[:, self.numeric_at] = numbers.to_numpy(np.float64, na_value=np.nan)
        else:  # text among the numbers: whatever does not parse is missing
            for k, name in zip(self.numeric_at, self.numeric, strict=True):
                column = pd.to_numeric(X[name], errors="coerce")
                out[:, k] = column.astype("float64").to_numpy()
        for name in self.levels:
            column = X.iloc[:, at[self.level_at[name]]].array
            out[:, self.level_at[name]] = self._level_codes(name, column)
        return out

    def matrix_of_columns(self, columns: Mapping[str, Any], n: int) -> np.ndarray:
        """The same matrix from feature arrays by name (``features.build.feature_columns``), as
        the API scores: no frame to build and take apart again. Numbers must be numeric and
        categories pandas arrays, as the feature code makes them."""
        missing = [name for name in self.names if name not in columns]
        if missing:
            raise ValueError(f"missing feature columns: {missing[:5]}")
        # a row per input, filled with contiguous writes, then one transposing copy: writing
        # each column of the row-major matrix in place strided through memory, 3x slower
        by_input = np.empty((len(self.names), n), dtype=np.float64)
        for k, name in zip(self.numeric_at, self.numeric, strict=True):
            by_input[k] = columns[name]
        for name in self.levels:
            by_input[self.level_at[name]] = self._level_codes(name, columns[name])
        return np.ascontiguousarray(by_input.T)

    def _level_codes(self, name: str, values: pd.api.extensions.ExtensionArray) -> np.ndarray:
        """Each value's position among ``name``'s training levels as a float; unseen or missing
        -> NaN. For a few values a dict lookup beats pandas' per-call overhead; a categorical
        is looked up per category (once per dtype), not per row."""
        position = self.position[name]
        if isinstance(values, pd.Categorical):
            key = (name, values.dtype)
            if key not in self._lookups:  # code -1 (missing) picks the appended -1
                categories = values.categories
                self._lookups[key] = np.array([position.get(c, -1) for c in categories] + [-1])
            found = self._lookups[key][values.codes]
        elif len(values) <= _FEW_ROWS:
            found = np.array([position.get(v, -1) for v in values.to_numpy(object)], dtype=np.intp)
        else:
            found = self.levels[name].get_indexer(values.to_numpy(object))
        out = found.astype(np.float64)
        out[found < 0] = np.nan
        return out


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
        self.input_encoding_ = InputEncoding.of(self.feature_names_in_, self.categorical_levels_)
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
            raw = self.raw_probability(self.encode(X_val))
            if self.calibration == "auto":
                self.calibration_ = choose_calibration(raw, y_val)
            else:
                self.calibration_ = {"chosen": self.calibration, "validation_log_loss": {}}
            if self.calibration_["chosen"] != "none":
                self.calibrator_ = _CALIBRATORS[self.calibration_["chosen"]]().fit(raw, y_val)
        return self

    # -- prediction --------------------------------------------------------------------------
    def __setstate__(self, state: dict) -> None:
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

    def raw_probability(self, matrix: np.ndarray) -> np.ndarray:
        """The booster's probability (before calibration) of an ``encode``d matrix."""
        return self.booster_.predict(
            matrix, num_iteration=self.best_iteration_, num_threads=self._threads(len(matrix))
        )

    def calibrated(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from ``raw_probability``."""
        return self.calibrator_.predict(raw) if self.calibrator_ is not None else raw

    def contribution_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """SHAP values on the log-odds of an ``encode``d matrix: one column per input, bias
        last."""
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
        p = self.calibrated(self.raw_probability(self.encode(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        check_is_fitted(self, "booster_")
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """SHAP contributions of each feature to the raw log-odds (before calibration), plus
        ``bias``: what pushes a lead's probability up or down, and by how much."""
        values = self.contribution_matrix(self.encode(X))
        return pd.DataFrame(values, columns=[*self.feature_names_in_, "bias"], index=X.index)

    def gain_importance(self) -> pd.Series:
        check_is_fitted(self, "booster_")
        gain = self.booster_.feature_importance("gain", iteration=self.best_iteration_)
        return pd.Series(gain, index=self.feature_names_in_).sort_values(ascending=False)
