"""Figures comparing the learned model with the hand-set score; built from arrays, never saved.

Each function returns a ``matplotlib.figure.Figure`` made without pyplot, so building one leaves
no global state and needs no display backend; ``tracking.py`` logs it and notebooks show it.
Figures are 8 x 6 inches at 100 dpi (800 x 600 px). Callers own the figure:
``plt.close(fig)`` is safe but, as pyplot never saw it, dropping the reference is enough.

Curves use the same metric functions and tie handling as ``training.evaluate`` (tied scores
share their positives), so a number in a legend never disagrees with a logged metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from training.evaluate import (
    as_outcomes,
    as_probabilities,
    as_scores,
    cumulative_gain,
    expected_calibration_error,
    reliability_bins,
)

FIGSIZE_IN = (8.0, 6.0)
DPI = 100
REFERENCE_STYLE = {"color": "0.55", "linestyle": "--", "linewidth": 1.0}
N_DECILES = 10


def _new_figure() -> Figure:
    return Figure(figsize=FIGSIZE_IN, dpi=DPI, layout="constrained")


def _checked(y_true: ArrayLike, scores: Mapping[str, ArrayLike]) -> tuple[np.ndarray, dict]:
    """Labels with both classes and named score arrays of the same length (curves need both)."""
    y = as_outcomes(y_true)
    if not 0 < y.sum() < y.size:
        raise ValueError("curves need both converted and non-converted rows in y_true")
    if not scores:
        raise ValueError("scores is empty; pass at least one named score")
    return y, {name: as_scores(s, y.size, name) for name, s in scores.items()}


def _finish(ax: Axes, title: str, xlabel: str, ylabel: str, legend_loc: str = "best") -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc=legend_loc, fontsize="small")


def roc_figure(y_true: ArrayLike, scores: Mapping[str, ArrayLike]) -> Figure:
    """ROC curve per named score (e.g. ``{"LightGBM": p, "hand-set points": points}``)."""
    y, named = _checked(y_true, scores)
    fig = _new_figure()
    ax = fig.add_subplot()
    for name, s in named.items():
        fpr, tpr, _ = roc_curve(y, s)
        auc = roc_auc_score(y, s)
        ax.plot(fpr, tpr, linewidth=2, label=f"{name} (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], **REFERENCE_STYLE, label="random (AUC = 0.500)")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), aspect="equal")
    _finish(
        ax,
        f"ROC on the same {y.size:,} test leads",
        "false positive rate (share of non-converting leads selected)",
        "true positive rate (share of converting leads selected)",
        legend_loc="lower right",
    )
    return fig


def precision_recall_figure(y_true: ArrayLike, scores: Mapping[str, ArrayLike]) -> Figure:
    """Precision-recall curve per named score; the legend gives PR AUC as average precision."""
    y, named = _checked(y_true, scores)
    fig = _new_figure()
    ax = fig.add_subplot()
    for name, s in named.items():
        precision, recall, _ = precision_recall_curve(y, s)
        ap = average_precision_score(y, s)
        ax.plot(
            recall,
            precision,
            drawstyle="steps-post",
            linewidth=2,
            label=f"{name} (PR AUC = {ap:.3f})",
        )
    base_rate = float(y.mean())
    ax.axhline(base_rate, **REFERENCE_STYLE, label=f"random (PR AUC = base rate {base_rate:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.01))
    _finish(
        ax,
        f"Precision-recall on the same {y.size:,} test leads (PR AUC = average precision)",
        "recall (share of converting leads selected)",
        "precision (share of selected leads that convert)",
        legend_loc="upper right",
    )
    return fig


def calibration_figure(
    y_true: ArrayLike, probabilities: Mapping[str, ArrayLike], n_bins: int = 10
) -> Figure:
    """Reliability diagram (quantile bins, ECE in the legend) above a histogram of predictions.

    Quantile bins hold equal numbers of leads, so every point rests on the same amount of data;
    the histogram shows where the predictions actually lie. Only probabilities belong here.
    """
    y = as_outcomes(y_true)
    named = {name: as_probabilities(p, y.size, name) for name, p in probabilities.items()}
    if not named:
        raise ValueError("probabilities is empty; pass at least one named probability")
    fig = _new_figure()
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.plot([0, 1], [0, 1], **REFERENCE_STYLE, label="perfectly calibrated")
    hist_bins = np.linspace(0, 1, 41)
    for name, p in named.items():
        bins = reliability_bins(y, p, n_bins=n_bins, strategy="quantile")
        ece = expected_calibration_error(y, p, n_bins=n_bins, strategy="quantile")
        (line,) = top.plot(
            bins.mean_predicted, bins.observed_rate, marker="o", label=f"{name} (ECE = {ece:.3f})"
        )
        bottom.hist(
            p, bins=hist_bins, histtype="step", linewidth=1.5, color=line.get_color(), label=name
        )
    top.set(xlim=(0, 1), ylim=(0, 1.01))
    _finish(
        top,
        f"Calibration: {n_bins} quantile bins of {y.size:,} test leads",
        "",
        "observed conversion rate (share of leads)",
        legend_loc="upper left",
    )
    bottom.set_xlabel("predicted conversion probability")
    bottom.set_ylabel("leads (count)")
    bottom.grid(alpha=0.3)
    return fig


def _decile_lift(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Lift of each tenth of the leads ranked by score (1 = best), i.e. not cumulative."""
    share_contacted, captured = cumulative_gain(y, s)
    cut_rows = np.round(np.linspace(0, y.size, N_DECILES + 1)).astype(int)
    captured_share = np.diff(captured[cut_rows])
    contacted_share = np.diff(share_contacted[cut_rows])
    with np.errstate(invalid="ignore", divide="ignore"):
        return captured_share / contacted_share


def gain_lift_figure(y_true: ArrayLike, scores: Mapping[str, ArrayLike]) -> Figure:
    """Cumulative gain (left) and lift per decile (right) for each named score.

    Gain answers "contact this share of leads, find what share of the conversions"; lift per
    decile shows how much richer each tenth of the ranking is than the base rate.
    """
    y, named = _checked(y_true, scores)
    fig = _new_figure()
    gain_ax, lift_ax = fig.subplots(1, 2)
    deciles = np.arange(1, N_DECILES + 1)
    width = 0.8 / len(named)
    for i, (name, s) in enumerate(named.items()):
        share_contacted, captured = cumulative_gain(y, s)
        (line,) = gain_ax.plot(share_contacted * 100, captured * 100, linewidth=2, label=name)
        offset = (i - (len(named) - 1) / 2) * width
        lift_ax.bar(
            deciles + offset, _decile_lift(y, s), width=width, color=line.get_color(), label=name
        )
    gain_ax.plot([0, 100], [0, 100], **REFERENCE_STYLE, label="random")
    gain_ax.set(xlim=(0, 100), ylim=(0, 101))
    _finish(
        gain_ax,
        "Cumulative gain",
        "leads contacted, best-scored first (%)",
        "converting leads found (%)",
        legend_loc="lower right",
    )
    lift_ax.axhline(1.0, **REFERENCE_STYLE, label="random (lift = 1)")
    lift_ax.set_xticks(deciles)
    _finish(
        lift_ax,
        "Lift per decile",
        "decile of leads by score (1 = highest)",
        "lift (conversion rate / base rate)",
        legend_loc="upper right",
    )
    fig.suptitle(f"Who to contact first: {y.size:,} test leads, base rate {y.mean():.1%}")
    return fig


def _top_bars(ax: Axes, names: np.ndarray, values: np.ndarray, top: int, color: str) -> None:
    order = np.argsort(-values, kind="stable")[:top][::-1]  # largest drawn last = at the top
    ax.barh(np.arange(order.size), values[order], color=color)
    ax.set_yticks(np.arange(order.size), labels=names[order], fontsize="small")
    ax.grid(axis="x", alpha=0.3)


def importance_figure(
    names: Sequence[str], gain: ArrayLike, mean_abs_shap: ArrayLike, top: int = 20
) -> Figure:
    """Gain importance and mean |SHAP| of the ``top`` features, each ranked by its own measure.

    Gain says where the trees split; mean |SHAP| says how much a feature moves the prediction.
    Showing both side by side flags features that split often but barely change scores.
    """
    labels = np.asarray(names, dtype=str)
    gain_values = as_scores(gain, labels.size, "gain")
    shap_values = as_scores(mean_abs_shap, labels.size, "mean_abs_shap")
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    shown = min(top, labels.size)
    fig = _new_figure()
    gain_ax, shap_ax = fig.subplots(1, 2)
    _top_bars(gain_ax, labels, gain_values, shown, "C0")
    gain_ax.set_title(f"Gain (top {shown})")
    gain_ax.set_xlabel("total gain\n(log-loss reduction over all splits)")
    _top_bars(shap_ax, labels, shap_values, shown, "C1")
    shap_ax.set_title(f"Mean |SHAP| (top {shown})")
    shap_ax.set_xlabel("mean |SHAP value|\n(log-odds)")
    fig.suptitle("Which features the model uses")
    return fig


def weights_figure(
    rule_names: Sequence[str],
    hand_set_points: ArrayLike,
    learned_points: ArrayLike,
    lower: ArrayLike | None = None,
    upper: ArrayLike | None = None,
) -> Figure:
    """Hand-set vs learned points per rule as grouped horizontal bars, rules in the given order.

    ``lower``/``upper`` bound the learned points (e.g. a bootstrap interval) and are drawn as an
    error bar from lower to upper, so an interval that does not contain the point estimate is
    still shown as it is. Give both or neither.
    """
    labels = np.asarray(rule_names, dtype=str)
    hand_set = as_scores(hand_set_points, labels.size, "hand_set_points")
    learned = as_scores(learned_points, labels.size, "learned_points")
    if (lower is None) != (upper is None):
        raise ValueError("give both lower and upper, or neither")
    rows = np.arange(labels.size)[::-1]  # first rule at the top
    height = 0.4
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.barh(rows + height / 2, hand_set, height=height, color="0.6", label="hand-set")
    ax.barh(rows - height / 2, learned, height=height, color="C0", label="learned")
    if lower is not None and upper is not None:
        lo = as_scores(lower, labels.size, "lower")
        hi = as_scores(upper, labels.size, "upper")
        if (lo > hi).any():
            raise ValueError(f"lower exceeds upper for rules {labels[lo > hi][:5].tolist()}")
        ax.errorbar(
            (lo + hi) / 2,
            rows - height / 2,
            xerr=(hi - lo) / 2,
            fmt="none",
            ecolor="black",
            capsize=3,
            label="learned interval",
        )
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(rows, labels=labels, fontsize="small")
    _finish(ax, "Points per rule: hand-set vs learned", "points", "rule", legend_loc="best")
    ax.grid(axis="y", visible=False)
    return fig
