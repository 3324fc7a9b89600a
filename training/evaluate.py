"""Metrics of the learned model and the hand-set baseline on the same test rows (pure).

Everything here takes arrays and returns numbers, so ``run.py`` can log them and notebooks can
recompute them without MLflow. Conventions shared by every function:

- ``y_true`` holds 0/1 outcomes (1 = converted). Inputs must be 1-D, equally long, non-empty
  and free of NaN; breaking that is a caller bug and raises ``ValueError``.
- A metric that the data cannot define is NaN, never an exception or a warning: ROC AUC with one
  class, precision when nothing is selected, recall or capture when there are no positives, lift
  when the base rate is 0. ``flatten_metrics`` drops those NaN before logging.
- Ranking metrics (lift, capture, gain, the head-to-head at the hand-set threshold) treat tied
  scores as one block and give each tied row the block's average outcome: the expected result of
  breaking ties at random. A hand-set points score has many ties; ordering them by row position
  (a stable sort) would let the order of the test file decide how good the baseline looks. This
  is deterministic, independent of row order, and the same tie handling as ROC AUC.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, roc_auc_score

BinStrategy = Literal["quantile", "uniform"]

LIFT_FRACTIONS = {"10": 0.10, "20": 0.20}
# Clip probabilities before the log so a confident mistake costs ~34.5 nats, not infinity.
LOG_LOSS_EPS = 1e-15
# 0.1 * 30 is 3.0000000000000004 in floating point; without slack ceil() would contact 4 leads.
_FRACTION_SLACK = 1e-9
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")


@dataclass(frozen=True)
class ReliabilityBins:
    """Per-bin summary behind the ECE and the reliability diagram (non-empty bins only).

    Attributes:
        mean_predicted: mean predicted probability of the rows in each bin.
        observed_rate: share of positives among those rows.
        count: number of rows in each bin.
        edges: bin edges actually used (after merging duplicate quantiles), ascending.
    """

    mean_predicted: np.ndarray
    observed_rate: np.ndarray
    count: np.ndarray
    edges: np.ndarray


def as_outcomes(y_true: ArrayLike) -> np.ndarray:
    """0/1 outcomes as int8; shared with ``plots`` so figures accept exactly what metrics do."""
    y = np.asarray(y_true)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y_true must be a non-empty 1-D array, got shape {y.shape}")
    if y.dtype == bool:
        return y.astype(np.int8)
    if not np.issubdtype(y.dtype, np.number):
        raise ValueError(f"y_true must be numeric 0/1 outcomes, got dtype {y.dtype}")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        raise ValueError(f"y_true must hold only 0 and 1, got e.g. {y[bad][:3].tolist()}")
    return y.astype(np.int8)


def as_scores(score: ArrayLike, n: int, name: str = "score") -> np.ndarray:
    """One float per row, no NaN: a NaN has no place in a ranking. ``name`` goes in errors."""
    s = np.asarray(score, dtype=float)
    if s.shape != (n,):
        raise ValueError(f"{name} must be 1-D with one value per row ({n}), got shape {s.shape}")
    if np.isnan(s).any():
        raise ValueError(f"{name} has {int(np.isnan(s).sum())} NaN values; score every row")
    return s


def as_probabilities(p: ArrayLike, n: int, name: str = "probability") -> np.ndarray:
    """Like ``as_scores`` and within [0, 1], as calibration metrics need."""
    s = as_scores(p, n, name)
    if s.min() < 0 or s.max() > 1:
        raise ValueError(f"{name} must lie in [0, 1], got range [{s.min()}, {s.max()}]")
    return s


def _both_classes(y: np.ndarray) -> bool:
    return 0 < int(y.sum()) < y.size


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator > 0 else math.nan


def _n_top(fraction: float, n: int) -> int:
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return max(1, math.ceil(fraction * n - _FRACTION_SLACK))


def reliability_bins(
    y_true: ArrayLike, p: ArrayLike, n_bins: int = 10, strategy: BinStrategy = "quantile"
) -> ReliabilityBins:
    """Group rows by predicted probability and compare the observed rate with the prediction.

    Binning: ``"quantile"`` puts the edges at the 0, 1/n_bins, ..., 1 quantiles of ``p`` so each
    bin holds about the same number of rows (conversion models predict mostly small
    probabilities, which would leave most equal-width bins empty or tiny). ``"uniform"`` uses
    ``n_bins`` equal-width bins on [0, 1]. Duplicate edges (many equal predictions) are merged,
    so there may be fewer bins than asked. Bins are closed on the left, the last one on both
    sides; a row exactly on an inner edge falls in the upper bin. Empty bins are left out.
    """
    y = as_outcomes(y_true)
    prob = as_probabilities(p, y.size)
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    if strategy == "quantile":
        edges = np.quantile(prob, np.linspace(0.0, 1.0, n_bins + 1))
    elif strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        raise ValueError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    edges = np.unique(edges)
    bin_of_row = np.searchsorted(edges[1:-1], prob, side="right")
    n_slots = max(edges.size - 1, 1)
    count = np.bincount(bin_of_row, minlength=n_slots)
    sum_p = np.bincount(bin_of_row, weights=prob, minlength=n_slots)
    sum_y = np.bincount(bin_of_row, weights=y, minlength=n_slots)
    used = count > 0
    return ReliabilityBins(
        mean_predicted=sum_p[used] / count[used],
        observed_rate=sum_y[used] / count[used],
        count=count[used],
        edges=edges,
    )


def expected_calibration_error(
    y_true: ArrayLike, p: ArrayLike, n_bins: int = 10, strategy: BinStrategy = "quantile"
) -> float:
    """Row-weighted mean of |observed rate - mean predicted probability| over bins.

    Binning as in ``reliability_bins`` (quantile bins by default). Defined with one class too.
    Even a perfectly calibrated model scores above 0 on a finite sample: each bin's observed rate
    has sampling noise of roughly sqrt(p(1-p)/rows_in_bin).
    """
    bins = reliability_bins(y_true, p, n_bins=n_bins, strategy=strategy)
    gap = np.abs(bins.observed_rate - bins.mean_predicted)
    return float(np.sum(gap * bins.count) / np.sum(bins.count))


def cumulative_gain(y_true: ArrayLike, score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Share of positives captured when contacting the top 0, 1, ..., n rows by score.

    Returns ``(share_contacted, share_captured)``, both of length n + 1 and starting at 0.
    Tied scores share their positives evenly (see the module docstring), so inside a tie block
    the curve is a straight line. ``share_captured`` is NaN everywhere when there are no
    positives.
    """
    y = as_outcomes(y_true)
    s = as_scores(score, y.size)
    share_contacted = np.arange(y.size + 1) / y.size
    if y.sum() == 0:
        return share_contacted, np.full(y.size + 1, math.nan)
    return share_contacted, _expected_positives_in_top(y, s) / y.sum()


def _expected_positives_in_top(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Expected positives among the top k rows for every k = 0..n, ties shared evenly."""
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order].astype(float)
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    sizes = np.diff(np.r_[starts, s.size])
    block_positives = np.add.reduceat(y_sorted, starts)
    block_of_row = np.repeat(np.arange(starts.size), sizes)
    before_block = np.r_[0.0, np.cumsum(block_positives)[:-1]]
    k = np.arange(1, s.size + 1)
    taken_in_block = k - starts[block_of_row]
    within = taken_in_block * block_positives[block_of_row] / sizes[block_of_row]
    return np.r_[0.0, before_block[block_of_row] + within]


def _positives_in_top(y: np.ndarray, s: np.ndarray, k: int) -> float:
    return float(_expected_positives_in_top(y, s)[k])


def lift_at(y_true: ArrayLike, score: ArrayLike, fraction: float) -> float:
    """Positive rate among the top ``fraction`` of rows by score, divided by the base rate.

    The top fraction is ceil(fraction * n) rows (at least one). Ties: see the module docstring.
    NaN when there are no positives (the base rate is 0).
    """
    y = as_outcomes(y_true)
    s = as_scores(score, y.size)
    k = _n_top(fraction, y.size)
    return _ratio(_positives_in_top(y, s, k) / k, y.mean())


def capture_rate_at(y_true: ArrayLike, score: ArrayLike, fraction: float) -> float:
    """Share of all positives found among the top ``fraction`` of rows by score.

    Same top rows and tie handling as ``lift_at``. A perfect ranking reaches
    min(1, fraction / base_rate). NaN when there are no positives.
    """
    y = as_outcomes(y_true)
    s = as_scores(score, y.size)
    k = _n_top(fraction, y.size)
    return _ratio(_positives_in_top(y, s, k), y.sum())


def evaluate_scores(
    y_true: ArrayLike, score: ArrayLike, *, is_probability: bool
) -> dict[str, float]:
    """Ranking metrics for any score; calibration metrics only for a probability.

    A hand-set points total is not a probability: its scale is arbitrary (doubling every rule's
    points changes nothing about whom it selects), so log loss, Brier score and ECE would measure
    the choice of units, not the score. It is compared with the model through rankings (AUC,
    average precision, lift, capture) and at its own threshold (``compare_with_baseline``).

    Keys: roc_auc, pr_auc (average precision), [log_loss, brier, ece], lift_10, lift_20,
    capture_10, capture_20, base_rate, rows. NaN where undefined: roc_auc with one class,
    pr_auc, lift and capture without positives. log_loss clips p to [1e-15, 1 - 1e-15].
    """
    y = as_outcomes(y_true)
    s = as_probabilities(score, y.size) if is_probability else as_scores(score, y.size)
    n_pos = int(y.sum())
    metrics: dict[str, float] = {
        "roc_auc": float(roc_auc_score(y, s)) if _both_classes(y) else math.nan,
        "pr_auc": float(average_precision_score(y, s)) if n_pos > 0 else math.nan,
    }
    if is_probability:
        clipped = np.clip(s, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
        metrics["log_loss"] = float(-np.mean(y * np.log(clipped) + (1 - y) * np.log1p(-clipped)))
        metrics["brier"] = float(np.mean((s - y) ** 2))
        metrics["ece"] = expected_calibration_error(y, s)
    gains = _expected_positives_in_top(y, s)
    for suffix, fraction in LIFT_FRACTIONS.items():
        k = _n_top(fraction, y.size)
        metrics[f"lift_{suffix}"] = _ratio(gains[k] / k, y.mean())
        metrics[f"capture_{suffix}"] = _ratio(gains[k], n_pos)
    metrics["base_rate"] = float(y.mean())
    metrics["rows"] = y.size
    return metrics


def compare_with_baseline(
    y_true: ArrayLike,
    model_probability: ArrayLike,
    baseline_points: ArrayLike,
    baseline_passes: ArrayLike,
) -> dict[str, dict[str, float]]:
    """Model and hand-set baseline on the same rows, plus a head-to-head at the hand-set threshold.

    ``baseline_passes`` marks the rows whose points reach the hand-set threshold; the team
    contacts those k rows today. The head-to-head asks what the model would achieve with the
    same budget: it selects its own top k rows (ties shared evenly, so precision and recall may
    be fractional expectations). Precision is NaN when k = 0; recall is NaN without positives.

    Returns ``{"model": {...}, "baseline": {...}, "at_threshold": {"selected": k,
    "baseline_precision", "baseline_recall", "model_precision", "model_recall"}}``.
    """
    y = as_outcomes(y_true)
    p = as_probabilities(model_probability, y.size, "model_probability")
    points = as_scores(baseline_points, y.size, "baseline_points")
    passes = np.asarray(baseline_passes)
    if passes.shape != y.shape or passes.dtype != bool:
        raise ValueError(
            f"baseline_passes must be a boolean array with one value per row ({y.size}), "
            f"got dtype {passes.dtype} and shape {passes.shape}"
        )
    k = int(passes.sum())
    n_pos = int(y.sum())
    baseline_hits = float(y[passes].sum())
    model_hits = _positives_in_top(y, p, k)
    return {
        "model": evaluate_scores(y, p, is_probability=True),
        "baseline": evaluate_scores(y, points, is_probability=False),
        "at_threshold": {
            "selected": k,
            "baseline_precision": _ratio(baseline_hits, k),
            "baseline_recall": _ratio(baseline_hits, n_pos),
            "model_precision": _ratio(model_hits, k),
            "model_recall": _ratio(model_hits, n_pos),
        },
    }


def oracle_auc(y_true: ArrayLike, true_probability: ArrayLike) -> float:
    """ROC AUC of the simulator's true conversion probability on the realised outcomes.

    The ceiling for any model on these rows: ranking by the true probability is optimal in
    expectation, so a model AUC near this value means little signal is left. On a finite test
    set a model can exceed it by chance. NaN with one class.
    """
    y = as_outcomes(y_true)
    p = as_probabilities(true_probability, y.size, "true_probability")
    return float(roc_auc_score(y, p)) if _both_classes(y) else math.nan


def flatten_metrics(nested: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Nested metric dicts -> flat ``{"model.roc_auc": 0.81, ...}`` ready for MLflow.

    Keys are joined with "."; characters MLflow rejects in a metric name are replaced by "_".
    None and NaN are dropped (MLflow would store NaN as a real point on the metric's chart);
    any other non-numeric value raises ``TypeError``.
    """
    flat: dict[str, float] = {}
    for key, value in nested.items():
        name = _UNSAFE_KEY_CHARS.sub("_", f"{prefix}{key}")
        if isinstance(value, Mapping):
            flat.update(flatten_metrics(value, prefix=f"{name}."))
        elif value is None:
            continue
        elif isinstance(value, numbers.Real):
            if not math.isnan(value):
                flat[name] = float(value)
        else:
            raise TypeError(f"metric {name!r} is {type(value).__name__}, not a number")
    return flat
