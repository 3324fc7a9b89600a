"""The calibrated LightGBM estimator: scikit-learn conventions, categoricals, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from training.model import _CALIBRATORS, LeadConversionModel, _logit, choose_calibration

FAST = {"n_estimators": 30, "min_child_samples": 5, "early_stopping_rounds": 10}


# Deliberate departures from scikit-learn's generic checks, each by design:
EXPECTED_FAILED_CHECKS = {
    "check_classifiers_train": "without eval_set the newest (last) rows are held out for early "
    "stopping and calibration, since rows come in time order; the check's rows are ordered by "
    "class, so that holdout is one class",
    "check_classifiers_train(readonly_memmap=True)": "as check_classifiers_train",
    "check_classifiers_train(readonly_memmap=True,X_dtype=float32)": "as check_classifiers_train",
    "check_dtype_object": "object columns are CRM text and become native categoricals",
    "check_classifier_data_not_an_array": "object columns are CRM text and become categoricals",
}


@parametrize_with_checks(
    [LeadConversionModel(**FAST)], expected_failed_checks=lambda _: EXPECTED_FAILED_CHECKS
)
def test_follows_scikit_learn_estimator_conventions(estimator, check):
    check(estimator)


def _data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    industry = rng.choice(["staffing", "software_saas", "media_publishing"], n)
    logit = 1.5 * x + np.where(industry == "media_publishing", 1.0, -0.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {"x": x, "industry": pd.Series(industry, dtype="str"), "noise": rng.random(n)}
    )
    return frame, y


def test_text_categoricals_are_learned_and_unseen_values_do_not_crash():
    X, y = _data(4000, 0)
    model = LeadConversionModel(**FAST).fit(X, y)
    assert model.categorical_levels_ == {
        "industry": ["media_publishing", "software_saas", "staffing"]
    }
    unseen = X.head(3).assign(industry=["aerospace", None, "staffing"])
    p = model.predict_proba(unseen)[:, 1]
    assert np.all((p > 0) & (p < 1))


def test_contributions_add_up_to_the_raw_log_odds():
    X, y = _data(3000, 1)
    model = LeadConversionModel(**FAST, calibration="none").fit(X, y)
    contributions = model.contributions(X.head(20))
    p = model.predict_proba(X.head(20))[:, 1]
    np.testing.assert_allclose(contributions.sum(axis=1), np.log(p / (1 - p)), rtol=1e-6)
    assert contributions.abs().mean()["x"] > contributions.abs().mean()["noise"]


def test_calibration_is_applied_only_where_it_helps_on_held_out_rows():
    rng = np.random.default_rng(2)
    p_true = rng.uniform(0.05, 0.6, 20_000)
    y = (rng.random(p_true.size) < p_true).astype(int)
    assert choose_calibration(p_true, y)["chosen"] == "none"
    distorted = p_true**3  # far too low: a calibrator must fix it
    decision = choose_calibration(distorted, y)
    assert decision["chosen"] in {"isotonic", "platt"}
    losses = decision["validation_log_loss"]
    assert losses[decision["chosen"]] < losses["none"]


def test_one_class_label_is_refused_with_a_clear_message():
    X, _ = _data(100, 3)
    with pytest.raises(ValueError, match="one class"):
        LeadConversionModel(**FAST).fit(X, np.zeros(100, dtype=int))


def test_encoding_gives_what_lightgbm_saw_at_fit_for_text_unseen_and_missing_values():
    X, y = _data(2000, 4)
    model = LeadConversionModel(**FAST).fit(X, y)
    industry = ["aerospace", None, "staffing", np.nan, "software_saas", "media_publishing"]
    rows = X.head(6).assign(industry=industry)
    expected = model.booster_.predict(model._prepare(rows), num_iteration=model.best_iteration_)
    as_category = rows.assign(industry=rows["industry"].astype("category"))
    many = pd.concat([rows] * 20)  # past the few-rows path: pandas' vectorised lookup
    for frame in (rows, as_category, many):
        matrix = model.encode(frame)
        np.testing.assert_array_equal(model.raw_probability(matrix)[:6], expected)
    assert np.isnan(model.encode(rows)[[0, 1, 3], 1]).all()


def test_a_model_pickled_before_its_encoding_was_stored_still_predicts():
    X, y = _data(1000, 5)
    model = LeadConversionModel(**FAST).fit(X, y)
    state = dict(model.__getstate__())  # a copy: on 3.11 this may be the __dict__ itself
    del state["input_encoding_"]
    old = LeadConversionModel.__new__(LeadConversionModel)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.predict_proba(X.head(9)), model.predict_proba(X.head(9)))


@pytest.mark.parametrize("kind", ["platt", "isotonic"])
def test_calibrators_compute_what_scikit_learn_computes(kind):
    """The calibrators skip scikit-learn's input checks (an API call scores one row); the
    arithmetic must stay scikit-learn's."""
    rng = np.random.default_rng(5)
    p = rng.uniform(0.01, 0.9, 5000)
    y = (rng.random(p.size) < p**2).astype(int)
    calibrator = _CALIBRATORS[kind]().fit(p, y)
    fresh = np.concatenate([rng.uniform(0, 1, 500), [0.0, 1.0, p.min(), p.max()]])
    fitted = calibrator.model_
    expected = (
        fitted.predict_proba(_logit(fresh).reshape(-1, 1))[:, 1]
        if kind == "platt"
        else fitted.predict(fresh)
    )
    np.testing.assert_allclose(calibrator.predict(fresh), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(calibrator.predict(fresh[:1]), expected[:1], rtol=1e-12)
