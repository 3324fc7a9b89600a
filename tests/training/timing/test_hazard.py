"""The hazard model: censoring handled (an open lead is neither dropped nor a negative), horizon
probabilities monotone and close to the simulator's oracle, and nothing at or after a decision
time (or the cut-off) reaching the fit or the answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.decision_points import follow_up
from features.history import LeadHistory
from features.simulate import true_within
from tests.factories import typed
from training.timing.evaluate import brier_by_horizon
from training.timing.fit import censored_at, decision_features, fit_at
from training.timing.hazard import HazardModel

HORIZONS = (30, 60, 90)
CUT_OFF = pd.Timestamp("2025-06-01")


def test_open_leads_are_counted_for_the_weeks_seen_not_as_negatives():
    """Weekly hazard 0.1 for everyone, half the leads still open after 0 to 91 days: the model
    finds the true P(within 90 days); calling open leads negatives would find far less."""
    rng = np.random.default_rng(0)
    n = 6_000
    converted = rng.geometric(0.1, n) * 7.0 - rng.uniform(0, 7, n)  # in week k with p 0.9^k 0.1
    observed = np.where(rng.random(n) < 0.5, rng.uniform(0, 91, n), 400.0)
    seen = np.where(converted <= observed, converted, np.nan)
    X = pd.DataFrame({"noise": rng.normal(size=n)})
    model = HazardModel(HORIZONS, min_child_samples=200).fit(X, seen, observed)
    truth = 1 - 0.9 ** (90 / 7)
    assert model.within(X)[:, 2].mean() == pytest.approx(truth, abs=0.03)
    as_negatives = np.nan_to_num(seen, nan=np.inf) <= 90
    assert as_negatives.mean() < truth - 0.1


def test_too_few_conversions_give_the_life_table():
    X = pd.DataFrame({"x": np.arange(50.0)})
    converted = np.where(np.arange(50) < 5, 10.0, np.nan)
    model = HazardModel(HORIZONS).fit(X, converted, np.full(50, 200.0))
    assert model.booster_ is None and model.describe()["kind"] == "life_table"
    assert model.life_table_[1] == pytest.approx(5 / 50)
    p = model.within(X)
    assert np.allclose(p, p[0]) and p[0, 0] == pytest.approx(0.1)


@pytest.fixture(scope="module")
def fitted(simulation, hand_set_rules) -> HazardModel:
    return fit_at(
        simulation.history,
        "mql_to_sql",
        hand_set_rules,
        cut_off=CUT_OFF,
        horizons_days=HORIZONS,
        seed=0,
    )


@pytest.fixture(scope="module")
def later_rows(simulation) -> pd.DataFrame:
    """MQLs of the 90 days after the cut-off, followed to the data's end (>= 120 days)."""
    rows = follow_up(simulation.history, "mql_to_sql", data_end=pd.Timestamp("2026-01-01"))
    later = (rows["as_of"] >= CUT_OFF) & (rows["as_of"] < CUT_OFF + pd.Timedelta(days=90))
    return rows[later].reset_index(drop=True)


def test_horizon_probabilities_are_monotone_and_near_the_oracle(
    fitted, later_rows, simulation, hand_set_rules
):
    X = decision_features(later_rows, simulation.history, hand_set_rules)
    p = fitted.within(X)
    assert ((p >= 0) & (p <= 1)).all() and (np.diff(p, axis=1) >= 0).all()
    truth = simulation.truth.query("transition == 'mql_to_sql'").set_index("lead_id")
    true_p = truth["true_probability"].reindex(later_rows["lead_id"]).to_numpy()
    oracle = np.column_stack([true_within("mql_to_sql", true_p, h) for h in HORIZONS])
    brier = brier_by_horizon(
        {"hazard": p, "oracle": oracle},
        later_rows["converted_days"].to_numpy(),
        later_rows["observed_days"].to_numpy(),
        HORIZONS,
    )
    for days in ("30", "60", "90"):
        assert brier[days]["rows"] == len(later_rows) > 200
        assert brier[days]["hazard"] - brier[days]["oracle"] < 0.03  # small data: 8,000 leads


def _cut(history: LeadHistory, at: pd.Timestamp) -> LeadHistory:
    return LeadHistory(
        history.leads,
        history.touches[history.touches["occurred_at"] < at],
        history.stage_changes[history.stage_changes["changed_at"] < at],
    )


def test_a_fit_at_a_cut_off_sees_nothing_after_it(fitted, later_rows, simulation, hand_set_rules):
    """Fitting on the full history at the cut-off gives the model fitted on a history that
    ends there: later touches and stage changes (conversions too) never reach the fit."""
    cut = fit_at(
        _cut(simulation.history, CUT_OFF),
        "mql_to_sql",
        hand_set_rules,
        cut_off=CUT_OFF,
        horizons_days=HORIZONS,
        seed=0,
    )
    assert cut.describe() == fitted.describe()
    X = decision_features(later_rows.head(200), simulation.history, hand_set_rules)
    np.testing.assert_array_equal(cut.within(X), fitted.within(X))


def test_events_at_or_after_the_decision_time_leave_the_answer_unchanged(
    fitted, later_rows, simulation, hand_set_rules
):
    history = simulation.history
    rows = later_rows.head(60)
    before = fitted.within(decision_features(rows, history, hand_set_rules))
    late = pd.DataFrame(
        {
            "lead_id": np.repeat(rows["lead_id"].to_numpy(), 3),
            "occurred_at": np.repeat(rows["as_of"].to_numpy(), 3)
            + np.tile(pd.to_timedelta([0, 1, 20], unit="D").to_numpy(), len(rows)),
            "channel": "sdr_call",
            "action": "meeting_booked",
            "page_type": None,
            "duration_s": 600.0,
        }
    )
    stages = pd.DataFrame({"lead_id": rows["lead_id"], "stage": "sql", "changed_at": rows["as_of"]})
    changed = LeadHistory(
        history.leads,
        pd.concat([history.touches, typed("touches", late)], ignore_index=True),
        pd.concat([history.stage_changes, typed("stage_changes", stages)], ignore_index=True),
    )
    after = fitted.within(decision_features(rows, changed, hand_set_rules))
    np.testing.assert_array_equal(after, before)


def test_censoring_at_a_cut_off_forgets_later_conversions(later_rows):
    at = CUT_OFF + pd.Timedelta(days=10)
    known = censored_at(later_rows, at)
    assert (known["as_of"] < at).all()
    assert (known["observed_days"] <= 10).all()
    converted = known["converted_days"].dropna()
    assert (converted <= known.loc[converted.index, "observed_days"]).all()
