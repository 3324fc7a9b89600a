"""The forecast's parts: the coming periods, who is open at ``as_of``, and expected counts with
the Poisson-binomial interval; on the simulation, a backtest lands near what happened."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.timing.fit import decision_features, fit_at
from training.timing.forecast import (
    Z_90,
    actual_counts,
    coming_periods,
    expected_counts,
    open_at,
)


def test_coming_periods_are_weeks_then_calendar_months_from_as_of():
    periods = coming_periods(pd.Timestamp("2025-05-20 12:00"), weeks=2, months=2)
    assert [(p.label, p.kind) for p in periods] == [
        ("next 30 days", "next"),
        ("week of 2025-05-20", "week"),
        ("week of 2025-05-27", "week"),
        ("2025-05", "month"),
        ("2025-06", "month"),
    ]
    may, june = periods[3], periods[4]
    assert may.start_days == 0 and may.end_days == pytest.approx(11.5)
    assert june.start_days == pytest.approx(11.5) and june.end_days == pytest.approx(41.5)


def test_expected_counts_sum_the_chances_with_a_normal_interval():
    hazards = np.array([[0.5, 0.0], [0.1, 0.0], [0.0, 0.0]])
    periods = coming_periods(pd.Timestamp("2025-01-01"), weeks=2, months=0)
    table = expected_counts(hazards, np.zeros(3), periods)
    week1 = table.iloc[1]
    assert week1["expected"] == pytest.approx(0.6)
    sd = np.sqrt(0.5 * 0.5 + 0.1 * 0.9)
    assert week1["high"] == pytest.approx(0.6 + Z_90 * sd)
    assert week1["low"] == 0.0  # clipped: a count is never negative
    assert table.iloc[2]["expected"] == 0.0  # no hazard in week 2


def test_open_leads_are_those_decided_and_not_converted_before_as_of(simulation):
    as_of = pd.Timestamp("2025-06-01")
    leads = open_at(simulation.history, "mql_to_sql", as_of)
    stages = simulation.history.stage_changes
    before = stages[stages["changed_at"] < as_of]
    mql = set(before.loc[before["stage"] == "mql", "lead_id"])
    sql = set(before.loc[before["stage"].isin(["sql", "won"]), "lead_id"])
    assert set(leads["lead_id"]) == mql - sql
    assert (leads["age_days"] > 0).all()
    assert leads["is_lost"].sum() == len(
        set(before.loc[before["stage"] == "lost", "lead_id"]) & set(leads["lead_id"])
    )


@pytest.mark.slow
def test_a_backtest_forecast_lands_near_what_happened(simulation, hand_set_rules):
    """Fitted on what was known at the cut-off; the 8,000-lead history gives ~25 SQLs a
    month from open MQLs, so the count's own luck is ~20%: the bound is loose."""
    cut_off = pd.Timestamp("2025-06-01")
    history = simulation.history
    model = fit_at(
        history,
        "mql_to_sql",
        hand_set_rules,
        cut_off=cut_off,
        horizons_days=(30, 60, 90),
        seed=0,
    )
    leads = open_at(history, "mql_to_sql", cut_off)
    hazards = model.hazards(model.encode(decision_features(leads, history, hand_set_rules)))
    periods = coming_periods(cut_off, weeks=4, months=0)
    table = expected_counts(hazards, leads["age_days"].to_numpy(), periods)
    actual = actual_counts(history, "mql_to_sql", leads, cut_off, periods)
    assert actual[0] >= sum(actual[1:5])  # 30 days hold the first four weeks
    assert table.iloc[0]["expected"] >= table.iloc[1:5]["expected"].sum()
    next_30 = table.iloc[0]
    assert next_30["low"] <= actual[0] <= next_30["high"], (next_30.to_dict(), actual)
