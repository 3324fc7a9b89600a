"""The rules prior's pieces: calibration of the hand-set score, the one-standard-error rules,
and the signs the rules give their touch counts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from training.model.prior import (
    RulesPrior,
    fewest_trees,
    monotone_signs,
    row_log_loss,
    trees_logit,
    within_se,
)


def _scored(n: int, seed: int, intercept: float = -2.0, slope: float = 0.05):
    rng = np.random.default_rng(seed)
    points = rng.integers(0, 80, n).astype(float)
    y = (rng.random(n) < expit(intercept + slope * points)).astype(int)
    return points, y


def test_calibration_recovers_the_log_odds_per_point_and_centres_the_contribution():
    points, y = _scored(20_000, 0)
    prior = RulesPrior.fit(points, y)
    assert prior.slope == pytest.approx(0.05, abs=0.005)
    assert prior.intercept == pytest.approx(-2.0, abs=0.15)
    assert prior.contribution(points).mean() == pytest.approx(0.0, abs=1e-12)
    assert (prior.rows, prior.converted) == (20_000, int(y.sum()))
    np.testing.assert_allclose(prior.logit(points), prior.intercept + prior.slope * points)


def test_half_strength_starts_halfway_between_the_base_rate_and_the_rules():
    points, y = _scored(2_000, 1)
    full, half = RulesPrior.fit(points, y), RulesPrior.fit(points, y, strength=0.5)
    np.testing.assert_allclose(half.logit(points), (full.logit(points) + full.base_logit) / 2)


def test_a_few_rows_the_points_separate_get_a_finite_slope():
    prior = RulesPrior.fit(np.array([0.0, 5, 10, 40, 50, 60]), np.array([0, 0, 0, 1, 1, 1]))
    assert 0 < prior.slope < 1


def test_points_that_never_vary_say_only_the_base_rate():
    prior = RulesPrior.fit(np.full(10, 7.0), np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0]))
    assert prior.slope == 0
    np.testing.assert_allclose(expit(prior.logit(np.array([0.0, 99.0]))), 0.2)


def test_one_outcome_or_a_strength_outside_0_to_1_is_refused():
    with pytest.raises(ValueError, match="converted and unconverted"):
        RulesPrior.fit(np.arange(5.0), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="strength"):
        RulesPrior.fit(np.arange(4.0), np.array([0, 1, 0, 1]), strength=1.5)


def test_trees_logit_inverts_the_sigmoid_and_is_0_for_no_trees():
    margins = np.array([-8.0, -1.5, 0.0, 2.0, 9.0])
    np.testing.assert_allclose(trees_logit(expit(margins)), margins, atol=1e-9)
    assert trees_logit(np.array([0.5]))[0] == 0.0


def test_row_log_loss_is_the_log_loss_of_the_probability():
    y, logit = np.array([1, 0, 1]), np.array([0.3, -2.0, 4.0])
    p = expit(logit)
    np.testing.assert_allclose(row_log_loss(y, logit), -(y * np.log(p) + (1 - y) * np.log1p(-p)))


def test_within_se_is_paired_over_rows():
    best = np.array([0.5, 0.4, 0.6, 0.5])
    assert within_se(best + 0.01, best)[0] is False  # consistently worse: no spread at all
    noisy = best + np.array([0.2, -0.2, 0.21, -0.2])
    kept, gap, se = within_se(noisy, best)
    assert kept and gap == pytest.approx(0.0025) and se > gap
    assert within_se(best + 0.01, best, errors=2.0)[0] is False


def _tree_steps(signal: np.ndarray, trees: int):
    return lambda k: signal / trees if k < trees else np.zeros_like(signal)


def test_noise_corrections_are_dropped_and_real_ones_kept():
    rng = np.random.default_rng(7)  # a seed where the noise trees come out a little better
    n = 400
    truth = rng.normal(size=n)
    y = (rng.random(n) < expit(truth)).astype(int)
    start = np.zeros(n)
    # ten trees that learn the real signal: all kept
    real = fewest_trees(y, start, _tree_steps(truth, 10), truth, 10)
    assert real["trees"] == 10 and real["early_stopping"] == 10
    # ten trees whose corrections point the right way on barely more than half of these rows:
    # a little better on average, but by less than the rows' noise says anything: none kept
    toward = np.where(rng.random(n) < 0.52, 1.0, -1.0)
    fitted_noise = 0.3 * (2 * y - 1) * toward
    chosen = fewest_trees(y, start, _tree_steps(fitted_noise, 10), fitted_noise, 10)
    assert chosen["trees"] == 0
    assert chosen["best_validation_log_loss"] < chosen["validation_log_loss"]


def test_rules_give_their_touch_counts_a_sign_and_conflicts_none(hand_set_rules):
    from features.definitions import FEATURE_NAMES
    from training.rules import HandSetRules

    signs = monotone_signs(hand_set_rules, FEATURE_NAMES)
    assert signs["pricing_page_touches_7d"] == 1  # pricing page views: +5
    assert signs["careers_page_touches_all"] == -1  # careers page: negative points
    assert signs["unsubscribe_count_90d"] == -1
    assert signs["demo_request_count_30d"] == 1
    assert set(signs.values()) <= {-1, 1} and set(signs) <= set(FEATURE_NAMES)
    assert not any(name.startswith("days_since") for name in signs)  # counts only
    conflicting = HandSetRules.model_validate(
        {
            "threshold": 10,
            "rules": [
                {"name": "views", "kind": "touch", "action": "page_view", "points": 2},
                {"name": "job_views", "kind": "touch", "action": "page_view",
                 "page_type": "careers", "points": -5},
                {"name": "big", "kind": "attribute", "attribute": "company_size", "min": 200,
                 "points": 5},
                {"name": "mid", "kind": "attribute", "attribute": "annual_revenue", "min": 1,
                 "max": 9, "points": 5},
            ],
        }
    )  # fmt: skip
    signs = monotone_signs(conflicting, FEATURE_NAMES)
    assert "page_view_count_30d" not in signs  # page views pulled both ways
    assert signs["careers_page_touches_30d"] == -1
    assert signs["company_size"] == 1  # a lower bound only: bigger is better
    assert "annual_revenue" not in signs  # a range has no direction
