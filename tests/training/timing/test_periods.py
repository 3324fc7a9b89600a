"""Person-periods and survival arithmetic on tiny hand-made cases: which weeks a lead is at
risk in, what a censored week contributes, and horizon probabilities that are monotone."""

from __future__ import annotations

import numpy as np
import pytest

from training.timing.periods import between, log_survival, person_periods, weeks_for, within


def test_weeks_cover_the_longest_horizon():
    assert weeks_for([30, 60, 90]) == 13
    assert weeks_for([7]) == 1 and weeks_for([8]) == 2


def test_a_lead_converting_in_week_two_is_at_risk_in_weeks_zero_to_two():
    row, week, label = person_periods(np.array([15.0]), np.array([200.0]), 13)
    assert week.tolist() == [0, 1, 2] and label.tolist() == [0, 0, 1] and set(row) == {0}


def test_a_lead_never_converting_is_at_risk_until_the_last_week():
    _, week, label = person_periods(np.array([np.nan]), np.array([200.0]), 13)
    assert week.tolist() == list(range(13)) and label.sum() == 0


def test_an_open_lead_counts_only_the_weeks_watched_to_their_end():
    # watched 17.5 days: weeks 0 and 1 whole, week 2 cut short by the data's end
    _, week, label = person_periods(np.array([np.nan]), np.array([17.5]), 13)
    assert week.tolist() == [0, 1] and label.sum() == 0


def test_a_conversion_in_a_week_cut_short_is_left_out_with_its_week():
    # converted on day 15, data ends on day 16: week 2 was not watched to its end
    _, week, label = person_periods(np.array([15.0]), np.array([16.0]), 13)
    assert week.tolist() == [0, 1] and label.sum() == 0


def test_a_lead_decided_at_the_data_end_contributes_nothing():
    row, _, _ = person_periods(np.array([np.nan, 3.0]), np.array([0.0, 5.0]), 13)
    assert row.size == 0


def test_rows_of_several_leads_keep_their_own_weeks():
    row, week, label = person_periods(np.array([3.0, np.nan]), np.array([100.0, 20.0]), 4)
    assert row.tolist() == [0, 1, 1] and week.tolist() == [0, 0, 1] and label.tolist() == [1, 0, 0]


def test_within_is_one_minus_the_product_of_survived_weeks_and_monotone():
    hazards = np.array([[0.1, 0.2, 0.3], [0.0, 0.5, 0.0]])
    p = within(hazards, [7, 14, 21, 30])
    assert p[0, 0] == pytest.approx(0.1)
    assert p[0, 1] == pytest.approx(1 - 0.9 * 0.8)
    assert p[0, 2] == pytest.approx(1 - 0.9 * 0.8 * 0.7)
    assert p[0, 3] == pytest.approx(p[0, 2])  # no hazard past the last week
    assert p[1].tolist() == pytest.approx([0.0, 0.5, 0.5, 0.5])
    assert (np.diff(p, axis=1) >= 0).all()


def test_part_of_a_week_has_constant_hazard_within_it():
    hazards = np.array([[0.36]])
    half = -np.expm1(log_survival(hazards, 3.5))[0]
    assert half == pytest.approx(1 - np.sqrt(0.64))


def test_between_is_the_chance_of_a_coming_period_given_no_conversion_yet():
    hazards = np.array([[0.1, 0.2, 0.3, 0.4]])
    # 7 days old, period: the next 7 days -> week 1's hazard
    assert between(hazards, np.array([7.0]), 0.0, 7.0)[0] == pytest.approx(0.2)
    # the next two weeks: 0.2 + 0.8 * 0.3
    assert between(hazards, np.array([7.0]), 0.0, 14.0)[0] == pytest.approx(0.2 + 0.8 * 0.3)
    # older than the modelled weeks: nothing more to come
    assert between(hazards, np.array([40.0]), 0.0, 30.0)[0] == 0.0
