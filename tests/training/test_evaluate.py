"""Metrics of model and hand-set baseline: known answers on hand-made rows, NaN where undefined."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from training.evaluate import (
    capture_rate_at,
    compare_with_baseline,
    cumulative_gain,
    evaluate_scores,
    expected_calibration_error,
    flatten_metrics,
    lift_at,
    oracle_auc,
    reliability_bins,
)

PROBABILITY_ONLY = {"log_loss", "brier", "ece"}
ALWAYS = {
    "roc_auc",
    "pr_auc",
    "lift_10",
    "lift_20",
    "capture_10",
    "capture_20",
    "base_rate",
    "rows",
}

# 20 rows ranked best first; positives at ranks 1, 2, 5, 11 -> base rate 0.2.
RANKED_Y = np.zeros(20, dtype=int)
RANKED_Y[[0, 1, 4, 10]] = 1
RANKED_SCORE = np.linspace(1.0, 0.05, 20)


@pytest.fixture(scope="module")
def calibrated() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    p = rng.beta(1.2, 6.0, size=50_000)
    return rng.binomial(1, p), p


def test_ece_of_calibrated_probabilities_is_small(calibrated):
    y, p = calibrated
    assert expected_calibration_error(y, p) < 0.01


def test_ece_of_shifted_probabilities_is_large(calibrated):
    y, p = calibrated
    assert expected_calibration_error(y, np.clip(p + 0.15, 0, 1)) > 0.12


def test_ece_uniform_bins_also_small_for_calibrated(calibrated):
    y, p = calibrated
    assert expected_calibration_error(y, p, strategy="uniform") < 0.02


def test_ece_known_value_on_hand_made_bins():
    # Two quantile bins: {0.1, 0.1} observed 0.5 -> gap 0.4; {0.9, 0.9} observed 1.0 -> gap 0.1.
    y = np.array([0, 1, 1, 1])
    p = np.array([0.1, 0.1, 0.9, 0.9])
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.25)


def test_reliability_bins_merge_duplicate_quantiles():
    bins = reliability_bins([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3], n_bins=10)
    assert bins.count.tolist() == [4]
    assert bins.observed_rate.tolist() == [0.5]


def test_reliability_bins_rejects_unknown_strategy():
    with pytest.raises(ValueError, match="strategy"):
        reliability_bins([0, 1], [0.2, 0.8], strategy="kmeans")  # type: ignore[arg-type]


def test_lift_and_capture_on_hand_made_ranking():
    # Top 10% = 2 rows, both positive: rate 1.0 / 0.2 = 5, 2 of 4 positives.
    assert lift_at(RANKED_Y, RANKED_SCORE, 0.1) == pytest.approx(5.0)
    assert capture_rate_at(RANKED_Y, RANKED_SCORE, 0.1) == pytest.approx(0.5)
    # Top 25% = 5 rows, 3 positives: rate 0.6 / 0.2 = 3, 3 of 4 positives.
    assert lift_at(RANKED_Y, RANKED_SCORE, 0.25) == pytest.approx(3.0)
    assert capture_rate_at(RANKED_Y, RANKED_SCORE, 0.25) == pytest.approx(0.75)
    assert capture_rate_at(RANKED_Y, RANKED_SCORE, 1.0) == pytest.approx(1.0)
    assert lift_at(RANKED_Y, RANKED_SCORE, 1.0) == pytest.approx(1.0)


def test_top_fraction_is_not_inflated_by_float_error():
    # 0.1 * 30 = 3.0000000000000004: the top 10% must still be 3 rows, not 4.
    y = np.r_[np.ones(3, dtype=int), np.zeros(27, dtype=int)]
    score = np.arange(30, 0, -1)
    assert lift_at(y, score, 0.1) == pytest.approx(10.0)


@pytest.mark.parametrize("base_rate", [0.05, 0.1, 0.3])
def test_perfect_ranking_captures_min_of_one_and_fraction_over_base_rate(base_rate):
    n = 1_000
    y = (np.arange(n) < base_rate * n).astype(int)
    score = -np.arange(n)  # positives first
    for fraction in (0.1, 0.2):
        assert capture_rate_at(y, score, fraction) == pytest.approx(min(1.0, fraction / base_rate))
        assert lift_at(y, score, fraction) == pytest.approx(
            min(1.0, base_rate / fraction) / base_rate
        )


def test_ties_share_positives_whatever_the_row_order():
    # All scores tied: contacting the top 10% finds 10% of positives in expectation.
    y = np.r_[np.ones(10, dtype=int), np.zeros(90, dtype=int)]
    flat = np.zeros(100)
    assert capture_rate_at(y, flat, 0.1) == pytest.approx(0.1)
    assert capture_rate_at(y[::-1], flat, 0.1) == pytest.approx(0.1)
    assert lift_at(y, flat, 0.2) == pytest.approx(1.0)


def test_cumulative_gain_is_linear_inside_a_tie_block():
    y = np.array([1, 0, 1, 0])
    score = np.array([2.0, 1.0, 1.0, 1.0])
    share_contacted, captured = cumulative_gain(y, score)
    assert share_contacted.tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    np.testing.assert_allclose(captured, [0, 0.5, 2 / 3, 5 / 6, 1.0])


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_fraction_outside_zero_one_is_rejected(fraction):
    with pytest.raises(ValueError, match="fraction"):
        lift_at(RANKED_Y, RANKED_SCORE, fraction)


def test_probability_metrics_present_only_for_a_probability():
    p = RANKED_SCORE
    as_probability = evaluate_scores(RANKED_Y, p, is_probability=True)
    as_points = evaluate_scores(RANKED_Y, p * 100, is_probability=False)
    assert set(as_probability) == ALWAYS | PROBABILITY_ONLY
    assert set(as_points) == ALWAYS
    assert as_points["rows"] == 20
    assert as_points["base_rate"] == pytest.approx(0.2)
    # Ranking metrics do not depend on the score's units.
    for key in ALWAYS:
        assert as_points[key] == pytest.approx(as_probability[key])


def test_brier_and_log_loss_known_values():
    metrics = evaluate_scores([1, 0], [0.8, 0.4], is_probability=True)
    assert metrics["brier"] == pytest.approx((0.2**2 + 0.4**2) / 2)
    assert metrics["log_loss"] == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)


def test_confident_mistake_gives_finite_log_loss():
    metrics = evaluate_scores([1, 0], [0.0, 1.0], is_probability=True)
    assert math.isfinite(metrics["log_loss"])


def test_probability_outside_unit_interval_is_rejected():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        evaluate_scores([0, 1], [0.5, 1.2], is_probability=True)


@pytest.mark.parametrize(
    ("y", "score", "match"),
    [
        ([0, 2], [0.1, 0.2], "only 0 and 1"),
        ([0, 1], [0.1, np.nan], "NaN"),
        ([0, 1], [0.1, 0.2, 0.3], "one value per row"),
        ([], [], "non-empty"),
    ],
)
def test_bad_inputs_raise_value_error(y, score, match):
    with pytest.raises(ValueError, match=match):
        evaluate_scores(y, score, is_probability=False)


def test_at_threshold_head_to_head_on_hand_made_rows():
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1, 0])
    model_probability = np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.3, 0.05, 0.15, 0.25, 0.02])
    baseline_points = np.array([30, 5, 40, 35, 25, 10, 0, 0, 5, 0])
    baseline_passes = baseline_points >= 25  # rows 0, 2, 3, 4 -> k = 4, 2 hits
    result = compare_with_baseline(y, model_probability, baseline_points, baseline_passes)
    at = result["at_threshold"]
    assert at["selected"] == 4
    assert at["baseline_precision"] == pytest.approx(2 / 4)
    assert at["baseline_recall"] == pytest.approx(2 / 4)
    # Model's top 4: rows 0, 1, 4 (positive) and 5 (0.3) -> 3 hits of 4 positives.
    assert at["model_precision"] == pytest.approx(3 / 4)
    assert at["model_recall"] == pytest.approx(3 / 4)
    assert set(result["model"]) == ALWAYS | PROBABILITY_ONLY
    assert set(result["baseline"]) == ALWAYS
    assert not PROBABILITY_ONLY & set(result["baseline"])


def test_nothing_passing_the_threshold_gives_nan_precision_and_zero_recall():
    y = np.array([1, 0, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        at = compare_with_baseline(y, [0.9, 0.1, 0.2, 0.6], [0, 0, 0, 0], np.zeros(4, bool))[
            "at_threshold"
        ]
    assert at["selected"] == 0
    assert math.isnan(at["baseline_precision"])
    assert math.isnan(at["model_precision"])
    assert at["baseline_recall"] == 0.0
    assert at["model_recall"] == 0.0


@pytest.mark.parametrize("outcome", [0, 1])
def test_one_class_outcomes_give_nan_without_warnings(outcome):
    y = np.full(10, outcome)
    p = np.linspace(0.1, 0.9, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = compare_with_baseline(y, p, p * 50, p > 0.5)
        oracle = oracle_auc(y, p)
    assert math.isnan(oracle)
    assert math.isnan(result["model"]["roc_auc"])
    assert math.isnan(result["baseline"]["roc_auc"])
    assert math.isfinite(result["model"]["brier"])
    assert math.isfinite(result["model"]["ece"])
    if outcome == 0:
        assert math.isnan(result["model"]["pr_auc"])
        assert math.isnan(result["model"]["lift_10"])
        assert math.isnan(result["baseline"]["capture_20"])
        assert math.isnan(result["at_threshold"]["model_recall"])
        assert result["at_threshold"]["baseline_precision"] == 0.0
    else:
        assert result["model"]["lift_10"] == pytest.approx(1.0)
        assert result["at_threshold"]["model_precision"] == pytest.approx(1.0)


def test_baseline_passes_must_be_boolean():
    with pytest.raises(ValueError, match="baseline_passes"):
        compare_with_baseline([0, 1], [0.2, 0.8], [0, 10], [0, 1])


def test_oracle_auc_of_perfect_truth_is_one():
    assert oracle_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == pytest.approx(1.0)


def test_flatten_metrics_gives_dotted_keys_and_drops_nan_and_none():
    nested = {
        "model": {"roc_auc": 0.8, "ece": math.nan, "rows": 10},
        "baseline": {"lift_10": np.float64(2.5), "missing": None},
        "at_threshold": {"model_precision": 0.5, "selected": np.int64(4)},
    }
    assert flatten_metrics(nested) == {
        "model.roc_auc": 0.8,
        "model.rows": 10.0,
        "baseline.lift_10": 2.5,
        "at_threshold.model_precision": 0.5,
        "at_threshold.selected": 4.0,
    }
    assert flatten_metrics({"a": 1}, prefix="test.") == {"test.a": 1.0}


def test_flatten_metrics_replaces_characters_mlflow_rejects():
    assert flatten_metrics({"P(SQL)": {"auc@10%": 0.7}}) == {"P_SQL_.auc_10_": 0.7}


def test_flatten_metrics_rejects_text():
    with pytest.raises(TypeError, match=r"model\.name"):
        flatten_metrics({"model": {"name": "lgbm"}})


def test_flattened_comparison_has_mlflow_keys_for_every_defined_metric():
    result = compare_with_baseline(RANKED_Y, RANKED_SCORE, RANKED_SCORE * 10, RANKED_SCORE > 0.7)
    flat = flatten_metrics(result)
    assert "model.roc_auc" in flat
    assert "baseline.lift_10" in flat
    assert "at_threshold.model_precision" in flat
    assert "baseline.ece" not in flat
    assert all(isinstance(v, float) and math.isfinite(v) for v in flat.values())
