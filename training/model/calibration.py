"""Calibrators of a model's probability, and the check that decides whether one is used.

Sales teams read the output as a probability ("3 in 10 of these become SQL"), so it must be
calibrated: a calibrator (isotonic or Platt) is fitted on the validation rows only when it
lowers held-out log loss there (``choose_calibration``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

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


def _halves(y: np.ndarray) -> np.ndarray | None:
    """Alternate rows (validation rows come in time order), or None when a half lacks an
    outcome and no calibrator can be fitted on it."""
    halves = np.arange(len(y)) % 2 == 0
    if len(np.unique(y[halves])) == 2 and len(np.unique(y[~halves])) == 2:
        return halves
    return None


def cross_fitted(p: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """Validation probabilities calibrated by ``method`` out of fold: each half by the
    calibrator fitted on the other half ("none", or halves without both outcomes: ``p``).
    What a calibrator fitted on these rows does to new rows, without flattering it."""
    halves = _halves(y)
    if method == "none" or halves is None:
        return p
    out = np.empty_like(p)
    for fit_on in (halves, ~halves):
        out[~fit_on] = _CALIBRATORS[method]().fit(p[fit_on], y[fit_on]).predict(p[~fit_on])
    return out


def _row_losses(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def choose_calibration(
    p: np.ndarray, y: np.ndarray, *, min_gain: float = 1e-4, one_se: bool = False
) -> dict:
    """Cross-fitted check on validation rows: does a calibrator lower log loss?

    Each candidate is fitted on one half and scored on the other (both ways), so the choice
    is not flattered by fitting and judging on the same rows. Returns the log losses and the
    chosen method ("none" unless one beats the raw model by ``min_gain``; with ``one_se``, by
    more than one standard error of the row-by-row gain too, as a model that is calibrated
    already, such as one starting from the calibrated rules, must show on few rows).
    """
    losses = {"none": _row_losses(y, p)}
    if _halves(y) is not None:
        for name in _CALIBRATORS:
            losses[name] = _row_losses(y, cross_fitted(p, y, name))
    scores = {name: float(rows.mean()) for name, rows in losses.items()}
    best = min(scores, key=scores.get)
    gain = losses["none"] - losses[best]
    bar = min_gain
    if one_se and len(y) > 1:
        bar = max(bar, float(gain.std(ddof=1) / np.sqrt(len(y))))
    chosen = best if scores["none"] - scores[best] > bar else "none"
    return {"chosen": chosen, "validation_log_loss": scores}
