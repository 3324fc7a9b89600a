"""The learned scorecard: logistic regression of the outcome on the rules' signals (weak L2 penalty,
Newton's method), its scale onto points (the hand-set threshold keeps its hand-over volume) and
seeded bootstrap intervals. Pure numpy, so ``training.weights.compare`` stays orchestration and the
numerical core is testable on tiny arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

L2_PENALTY = 1.0


def _expit(z: np.ndarray) -> np.ndarray:
    """The logistic function via tanh: no overflow warnings for large |z|."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow


def fit_logistic(
    X: np.ndarray,
    y: np.ndarray,
    *,
    l2: float = L2_PENALTY,
    weights: np.ndarray | None = None,
    start: np.ndarray | None = None,
    max_iter: int = 100,
) -> np.ndarray:
    """L2-penalised logistic regression by damped Newton steps; returns [coefficients...,
    intercept]. The intercept is not penalised. Minimises
    sum_i w_i * logloss_i + l2/2 * |coef|^2 (scikit-learn's objective with C = 1/l2)."""
    n, d = X.shape
    design = np.column_stack([X, np.ones(n)])
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    penalty = np.full(d + 1, float(l2))
    penalty[-1] = 0.0
    beta = np.zeros(d + 1) if start is None else np.array(start, dtype=float)

    def objective(b: np.ndarray) -> float:
        z = design @ b
        return float(np.sum(w * (np.logaddexp(0.0, z) - y * z)) + 0.5 * np.sum(penalty * b * b))

    value = objective(beta)
    for _ in range(max_iter):
        p = _expit(design @ beta)
        gradient = design.T @ (w * (p - y)) + penalty * beta
        hessian = (design * (w * p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-10)
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while True:
            candidate = beta - size * step
            new_value = objective(candidate)
            if new_value <= value or size < 1e-6:
                break
            size /= 2
        done = value - new_value <= 1e-10 * (1.0 + abs(value))
        beta, value = candidate, min(value, new_value)
        if done:
            break
    return beta


def kth_largest(values: np.ndarray, k: int, weights: np.ndarray | None = None) -> float:
    """The value at which, counting weights, ``k`` rows lie at or above it."""
    order = np.argsort(-values, kind="stable")
    counts = np.ones(values.size) if weights is None else weights[order]
    position = int(np.searchsorted(np.cumsum(counts), k - 1e-9))
    return float(values[order][min(position, values.size - 1)])


def points_scale(
    z: np.ndarray,
    passes: np.ndarray,
    totals: np.ndarray,
    threshold: float,
    weights: np.ndarray | None = None,
) -> tuple[float, str]:
    """Learned points per unit of log-odds, and how it was chosen.

    ``z``: each row's learned log-odds without the intercept; ``passes``: the hand-set points
    pass the threshold. The scale makes ``scale * z >= threshold`` pass as many rows (weighted)
    as the hand-set points do; when that is impossible (threshold <= 0, no row or every row
    passing, or the cut at z <= 0), it matches the standard deviation of the hand-set totals.
    """
    w = np.ones(z.size) if weights is None else weights
    k = float(np.sum(w * passes))
    if threshold > 0 and 0 < k < w.sum():
        cut = kth_largest(z, round(k), weights)
        if cut > 0:
            return threshold / cut, "same number of leads passing the hand-set threshold"
    spread_z = math.sqrt(np.cov(z, aweights=w)) if z.size > 1 else 0.0
    spread_points = math.sqrt(np.cov(totals, aweights=w)) if totals.size > 1 else 0.0
    scale = spread_points / spread_z if spread_z > 0 and spread_points > 0 else 1.0
    return scale, "same spread as the hand-set totals"


@dataclass(frozen=True)
class Scorecard:
    """Logistic regression on the rule signals, on the points scale.

    Attributes:
        coef, intercept: log-odds per unit of signal, and the intercept.
        scale, scale_method: points per log-odds unit (``points_scale``).
        points: scale x coef, unrounded; lower, upper: 95 % bootstrap percentiles (NaN
            without resamples).
    """

    coef: np.ndarray
    intercept: float
    scale: float
    scale_method: str
    points: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def fit_scorecard(
    signal: np.ndarray,
    y: np.ndarray,
    passes: np.ndarray,
    totals: np.ndarray,
    threshold: float,
    *,
    bootstrap: int,
    seed: int,
    on_resample: Callable[[int], None] | None = None,
) -> Scorecard:
    """Fit, scale, and refit on ``bootstrap`` seeded resamples of the rows (each resample
    refits the scale too, so the interval holds both uncertainties). ``on_resample(n)`` hears
    the resamples done so far, for a progress display."""
    beta = fit_logistic(signal, y)
    scale, method = points_scale(signal @ beta[:-1], passes, totals, threshold)
    rng = np.random.default_rng(seed)
    n = signal.shape[0]
    draws = np.empty((bootstrap, signal.shape[1]))
    for b in range(bootstrap):
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        beta_b = fit_logistic(signal, y, weights=w, start=beta)
        scale_b, _ = points_scale(signal @ beta_b[:-1], passes, totals, threshold, w)
        draws[b] = scale_b * beta_b[:-1]
        if on_resample is not None:
            on_resample(b + 1)
    nan = np.full(signal.shape[1], np.nan)
    lower, upper = np.percentile(draws, [2.5, 97.5], axis=0) if bootstrap else (nan, nan)
    return Scorecard(beta[:-1], float(beta[-1]), scale, method, scale * beta[:-1], lower, upper)
