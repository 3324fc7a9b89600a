"""Figures: right number of panels and curves, metric values in the legends, PNG export works.

``training.plots`` never touches pyplot, so no backend needs selecting: ``Figure.savefig``
renders PNG with Agg on its own.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from training import plots
from training.evaluate import evaluate_scores, expected_calibration_error

N_ROWS = 2_000


@pytest.fixture(scope="module")
def leads() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    true_p = 1 / (1 + np.exp(-rng.normal(-1.8, 1.0, N_ROWS)))
    y = rng.binomial(1, true_p)
    model = np.clip(true_p * rng.lognormal(0, 0.2, N_ROWS), 0, 1)
    points = np.round(np.log(true_p / (1 - true_p)) + rng.normal(0, 1.5, N_ROWS)) * 10
    return {"y": y, "model": model, "points": points}


@pytest.fixture
def named_scores(leads) -> dict[str, np.ndarray]:
    return {"LightGBM": leads["model"], "hand-set points": leads["points"]}


def _legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _labelled(ax) -> bool:
    return bool(ax.get_title() and ax.get_xlabel())


def test_roc_figure_has_one_curve_per_score_and_auc_in_legend(leads, named_scores):
    fig = plots.roc_figure(leads["y"], named_scores)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert len(ax.get_lines()) == len(named_scores) + 1  # + random diagonal
    auc = evaluate_scores(leads["y"], leads["model"], is_probability=True)["roc_auc"]
    texts = _legend_texts(ax)
    assert f"LightGBM (AUC = {auc:.3f})" in texts
    assert any(t.startswith("hand-set points (AUC = ") for t in texts)
    assert "random (AUC = 0.500)" in texts
    assert _labelled(ax) and ax.get_ylabel()


def test_precision_recall_figure_reports_average_precision(leads, named_scores):
    fig = plots.precision_recall_figure(leads["y"], named_scores)
    (ax,) = fig.axes
    assert len(ax.get_lines()) == len(named_scores) + 1  # + base-rate line
    ap = evaluate_scores(leads["y"], leads["points"], is_probability=False)["pr_auc"]
    assert f"hand-set points (PR AUC = {ap:.3f})" in _legend_texts(ax)
    assert _labelled(ax)


def test_calibration_figure_has_reliability_and_histogram_panels(leads):
    probabilities = {"LightGBM": leads["model"], "constant": np.full(N_ROWS, 0.2)}
    fig = plots.calibration_figure(leads["y"], probabilities, n_bins=8)
    top, bottom = fig.axes
    assert len(top.get_lines()) == 3  # diagonal + two models
    model_line = top.get_lines()[1]
    assert len(model_line.get_xdata()) == 8
    ece = expected_calibration_error(leads["y"], leads["model"], n_bins=8)
    texts = _legend_texts(top)
    assert "perfectly calibrated" in texts
    assert f"LightGBM (ECE = {ece:.3f})" in texts
    assert len(bottom.patches) == 2  # one step histogram per model
    assert bottom.get_ylabel() == "leads (count)"
    assert "probability" in bottom.get_xlabel()


def test_gain_lift_figure_has_gain_curves_and_ten_deciles(leads, named_scores):
    fig = plots.gain_lift_figure(leads["y"], named_scores)
    gain_ax, lift_ax = fig.axes
    assert len(gain_ax.get_lines()) == len(named_scores) + 1
    assert "random" in _legend_texts(gain_ax)
    assert len(lift_ax.patches) == 10 * len(named_scores)
    assert set(named_scores) <= set(_legend_texts(lift_ax))
    first_decile_heights = [lift_ax.patches[i * 10].get_height() for i in range(2)]
    assert all(h > 1 for h in first_decile_heights)  # both scores beat random at the top
    gain_x, gain_y = gain_ax.get_lines()[0].get_data()
    assert gain_x[0] == 0 and gain_y[-1] == pytest.approx(100)
    assert _labelled(gain_ax) and _labelled(lift_ax)


def test_importance_figure_shows_top_features_ranked_by_each_measure():
    names = [f"feature_{i}" for i in range(30)]
    gain = np.arange(30, dtype=float)  # feature_29 largest gain
    shap = np.arange(30, dtype=float)[::-1]  # feature_0 largest |SHAP|
    fig = plots.importance_figure(names, gain, shap, top=5)
    gain_ax, shap_ax = fig.axes
    assert len(gain_ax.patches) == 5 and len(shap_ax.patches) == 5
    gain_labels = [t.get_text() for t in gain_ax.get_yticklabels()]
    shap_labels = [t.get_text() for t in shap_ax.get_yticklabels()]
    assert gain_labels[-1] == "feature_29"  # drawn at the top
    assert shap_labels[-1] == "feature_0"
    assert "SHAP" in shap_ax.get_xlabel() and "gain" in gain_ax.get_xlabel()


def test_importance_figure_with_fewer_features_than_top():
    fig = plots.importance_figure(["a", "b"], [1.0, 2.0], [0.1, 0.3], top=20)
    assert [len(ax.patches) for ax in fig.axes] == [2, 2]


def test_weights_figure_groups_bars_and_draws_intervals():
    rules = ["pricing_page", "demo_request", "free_email"]
    fig = plots.weights_figure(
        rules, [10, 25, -5], [14.0, 18.0, -9.0], lower=[9.0, 12.0, -15.0], upper=[20.0, 16.0, -2.0]
    )
    (ax,) = fig.axes
    assert len(ax.patches) == 2 * len(rules)
    by_height = sorted(zip(ax.get_yticks(), ax.get_yticklabels(), strict=True), key=lambda t: -t[0])
    assert [label.get_text() for _, label in by_height] == rules  # first rule on top
    assert {"hand-set", "learned", "learned interval"} <= set(_legend_texts(ax))
    assert "points" in ax.get_xlabel()


def test_weights_figure_without_interval_has_no_error_bars():
    fig = plots.weights_figure(["a", "b"], [1, 2], [1.5, 0.5])
    assert "learned interval" not in _legend_texts(fig.axes[0])


def test_weights_figure_needs_both_interval_bounds():
    with pytest.raises(ValueError, match="both"):
        plots.weights_figure(["a"], [1], [2], lower=[0])


def test_curves_need_both_classes(named_scores):
    with pytest.raises(ValueError, match="both"):
        plots.roc_figure(np.zeros(N_ROWS, dtype=int), named_scores)


def test_every_figure_saves_to_png_at_800_by_600(tmp_path, leads, named_scores):
    y = leads["y"]
    figures = {
        "roc": plots.roc_figure(y, named_scores),
        "pr": plots.precision_recall_figure(y, named_scores),
        "calibration": plots.calibration_figure(y, {"LightGBM": leads["model"]}),
        "gain_lift": plots.gain_lift_figure(y, named_scores),
        "importance": plots.importance_figure(["a", "b", "c"], [3, 1, 2], [0.2, 0.3, 0.1]),
        "weights": plots.weights_figure(["a", "b"], [5, 10], [7, 3], [4, 1], [9, 6]),
    }
    for name, fig in figures.items():
        path = tmp_path / f"{name}.png"
        fig.savefig(path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert tuple(fig.get_size_inches() * fig.dpi) == (800, 600)
