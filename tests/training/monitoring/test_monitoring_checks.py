"""The monitor's computations on tiny frames: reference bins, PSI and its bands, who counts
as scored, outcomes only on matured cohorts, calibration, inflation and when each alarms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.monitoring import alarms
from training.monitoring.calibration import auc_with_error, cohort_table, segment_table, z_score
from training.monitoring.cohorts import WEEK, population, week_of, with_outcomes
from training.monitoring.inflation import weekly_shares
from training.monitoring.psi import band, psi, weekly_psi
from training.profile import bin_counts, bin_labels, bins_of, column_profile, threshold_share

UNTIL = pd.Timestamp("2025-03-03")


# --- reference bins -----------------------------------------------------------------------


def test_numeric_bins_use_observed_values_and_count_missing_last():
    spec = bins_of(np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 7, np.nan]), "numeric")
    assert spec["edges"] == [0.0, 1.0, 2.0, 3.0]  # deciles: the top one is 3
    counts = bin_counts(spec, [0, 0.5, 1, 8, None, np.nan])
    # <=0, (0,1], (1,2], (2,3], >3, missing
    assert counts.tolist() == [1, 2, 0, 0, 1, 2]
    assert bin_labels(spec)[0] == "<= 0" and bin_labels(spec)[-1] == "(missing)"


def test_categorical_bins_pool_rare_and_unseen_levels():
    values = ["a"] * 600 + ["b"] * 399 + ["rare"] * 1 + [None] * 5
    spec = bins_of(pd.Categorical(values), "categorical")
    assert spec["levels"] == ["a", "b"]  # "rare" holds under 0.5 % of the rows
    counts = bin_counts(spec, ["a", "b", "rare", "new", None])
    assert counts.tolist() == [1, 1, 2, 1]  # a, b, (other), (missing)


def test_threshold_share_is_the_share_at_or_above():
    assert threshold_share(np.array([10, 35, 40, 20]), 35) == {"value": 35, "share": 0.5, "rows": 4}


# --- PSI ----------------------------------------------------------------------------------


def test_psi_is_zero_for_the_same_shares_and_matches_the_formula():
    assert psi([100, 200, 700], [10, 20, 70]) == pytest.approx(0.0, abs=1e-3)
    e = (np.array([500, 500]) + 0.5) / 1001
    a = (np.array([900, 100]) + 0.5) / 1001
    assert psi([500, 500], [900, 100]) == pytest.approx(np.sum((a - e) * np.log(a / e)))
    with pytest.raises(ValueError, match="3 bins against 2"):
        psi([1, 2], [1, 2, 3])


@pytest.mark.parametrize(("value", "expected"), [(0.05, "stable"), (0.1, "watch"), (0.3, "act")])
def test_psi_bands(value, expected):
    assert band(value) == expected


def _reference(rng: np.random.Generator) -> dict:
    size = rng.lognormal(4, 1, 5000)
    source = rng.choice(["web", "event", "partner"], 5000, p=[0.6, 0.3, 0.1])
    probability = rng.beta(2, 5, 5000)
    points = rng.normal(30, 10, 5000)
    return {
        "features": {
            "company_size": column_profile(size, "numeric"),
            "source": column_profile(source, "categorical"),
        },
        "scores": {
            "probability": column_profile(probability, "numeric"),
            "hand_set_points": column_profile(points, "numeric"),
        },
        "thresholds": {
            "hand_set": threshold_share(points, 35),
            "model_hot": threshold_share(probability, 0.5),
        },
        "roc_auc": 0.8,
    }


def _week(rng: np.random.Generator, n: int, week: pd.Timestamp, **overrides) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "lead_id": [f"{week.date()}-{i}" for i in range(n)],
            "week": week,
            "probability": rng.beta(2, 5, n),
            "hand_set_points": rng.normal(30, 10, n),
            "company_size": rng.lognormal(4, 1, n),
            "source": rng.choice(["web", "event", "partner"], n, p=[0.6, 0.3, 0.1]),
        }
    )
    frame["passes_threshold"] = frame["hand_set_points"] >= 35
    for column, value in overrides.items():
        frame[column] = value
    return frame


def test_weeks_like_the_reference_are_stable_and_a_dropped_field_is_act():
    rng = np.random.default_rng(1)
    reference = _reference(rng)
    weeks = [UNTIL - 2 * WEEK, UNTIL - WEEK]
    frame = pd.concat(
        [_week(rng, 800, weeks[0]), _week(rng, 800, weeks[1], company_size=None)],
        ignore_index=True,
    )
    table = weekly_psi(frame, reference)
    first = table[table["week"] == weeks[0]]
    assert (first["band"] == "stable").all(), first
    dropped = table[(table["week"] == weeks[1]) & (table["column"] == "company_size")]
    assert dropped["band"].item() == "act" and dropped["psi"].item() > 5
    assert set(table["kind"]) == {"score", "feature"}
    found = alarms.psi_alarms("mql_to_sql", table, weeks[1])
    assert [(a.check, a.subject) for a in found] == [("psi", "company_size")]
    assert "company_size moved" in found[0].message


def test_a_week_of_too_few_leads_is_shown_but_not_judged():
    rng = np.random.default_rng(2)
    reference = _reference(rng)
    frame = _week(rng, 30, UNTIL - WEEK, source="event")
    table = weekly_psi(frame, reference)
    assert not table["judged"].any()
    assert table.loc[table["column"] == "source", "band"].item() == "act"
    assert alarms.psi_alarms("mql_to_sql", table, UNTIL - WEEK) == []


def test_an_act_value_chance_alone_explains_is_no_alarm():
    """PSI 0.28 on a column of 12 bins: noise on a week of 100 leads, a shift on 2,000."""
    table = pd.DataFrame(
        [
            {
                "week": week,
                "column": "country",
                "kind": "feature",
                "rows": rows,
                "psi": 0.28,
                "band": "act",
                "judged": True,
                "bins": 12,
                "reference_rows": 30_000,
            }
            for week, rows in ((UNTIL - 2 * WEEK, 100), (UNTIL - WEEK, 2_000))
        ]
    )
    assert alarms.psi_alarms("mql_to_sql", table, UNTIL - 2 * WEEK) == []
    assert [a.subject for a in alarms.psi_alarms("mql_to_sql", table, UNTIL - WEEK)] == ["country"]
    assert alarms.psi_chance(100, 30_000, 12, 1) > 0.28 > alarms.psi_chance(2_000, 30_000, 12, 1)


# --- who counts as scored -----------------------------------------------------------------


def _scores(rows: list[tuple]) -> pd.DataFrame:
    """Store rows: (lead_id, as_of, mql_to_sql status, probability)."""
    return pd.DataFrame(
        {
            "id": range(len(rows)),
            "lead_id": [r[0] for r in rows],
            "as_of": pd.to_datetime([r[1] for r in rows]),
            "mql_to_sql_status": [r[2] for r in rows],
            "mql_to_sql_probability": [r[3] for r in rows],
            "mql_to_sql_version": "3",
            "hand_set_points": 40.0,
            "passes_threshold": 1,
            "feature.source": "web",
        }
    )


def test_population_keeps_each_leads_first_open_score_and_counts_the_rest():
    since = pd.Timestamp("2025-02-01")
    scores = _scores(
        [
            ("early", "2025-01-20", "open", 0.1),  # first scored before the period
            ("early", "2025-02-03", "open", 0.2),
            ("a", "2025-02-02", "hypothetical", 0.3),  # not MQL yet
            ("a", "2025-02-04", "open", 0.4),
            ("a", "2025-02-10", "open", 0.5),  # a repeat: the first open score counts
            ("b", "2025-02-11", "converted", None),
        ]
    )
    found = population(scores, "mql_to_sql", since=since, until=UNTIL)
    assert found.frame["lead_id"].tolist() == ["a"]
    assert found.frame["probability"].tolist() == [0.4]
    assert found.frame["source"].tolist() == ["web"]
    assert found.set_aside == {
        "status hypothetical (the transition was not open)": 1,
        "status converted (the transition was not open)": 1,
        "scored again (first scored before the period)": 1,
        "scored again (the lead's first score in the period counts)": 1,
    }


def test_weeks_end_at_until():
    times = pd.Series(pd.to_datetime(["2025-03-02 23:59", "2025-02-24 00:00", "2025-02-23 23:00"]))
    assert week_of(times, UNTIL).tolist() == [UNTIL - WEEK, UNTIL - WEEK, UNTIL - 2 * WEEK]


# --- outcomes: matured cohorts only -------------------------------------------------------


def test_outcomes_count_the_target_within_the_window_and_only_for_matured_cohorts():
    days = 30
    known_at = pd.Timestamp("2025-06-01")
    old, young = known_at - pd.Timedelta(days=days) - WEEK, known_at - pd.Timedelta(days=days)
    frame = pd.DataFrame(
        {
            "lead_id": ["in", "late", "never", "unknown", "young"],
            "as_of": [old, old, old, old, young + pd.Timedelta(hours=1)],
            "week": [old, old, old, old, young],
            "probability": 0.5,
        }
    )
    stages = pd.DataFrame(
        {
            "lead_id": [1, 2, 5, 1],  # ids as the CRM has them: compared as text
            "stage": ["sql", "won", "sql", "lost"],
            "changed_at": [
                old + pd.Timedelta(days=3),
                old + pd.Timedelta(days=days + 1),  # outside the window
                young + pd.Timedelta(days=2),
                old + pd.Timedelta(days=40),
            ],
        }
    )
    frame["lead_id"] = ["1", "2", "3", "4", "5"]
    out = with_outcomes(
        frame, stages, ["1", "2", "3", "5"], "mql_to_sql", outcome_days=days, known_at=known_at
    )
    assert out["matured"].tolist() == [True, True, True, True, False]
    assert out["known"].tolist() == [True, True, True, False, True]
    assert out["converted"].tolist()[:3] == [1.0, 0.0, 0.0]
    assert out["converted"].iloc[3:].isna().all()  # unknown lead, young cohort: not judged


# --- calibration --------------------------------------------------------------------------


def test_z_score_and_auc_error():
    y = np.array([1, 1, 0, 0])
    p = np.array([0.25, 0.25, 0.25, 0.25])
    assert z_score(y, p) == pytest.approx((2 - 1) / np.sqrt(4 * 0.25 * 0.75))
    assert np.isnan(auc_with_error(y, p)[0])  # too few of each class
    rng = np.random.default_rng(3)
    p = rng.random(2000)
    y = (rng.random(2000) < p).astype(float)
    auc, se = auc_with_error(y, p)
    assert 0.8 < auc < 0.88 and 0.005 < se < 0.02


def _matured(rng: np.random.Generator, n: int, week: pd.Timestamp, shift: float = 0.0):
    p = rng.uniform(0.1, 0.5, n)
    segment = rng.choice(["saas", "retail"], n)
    true_p = np.where(segment == "saas", np.clip(p + shift, 0, 1), p)
    return pd.DataFrame(
        {
            "week": week,
            "probability": p,
            "converted": (rng.random(n) < true_p).astype(float),
            "industry": segment,
        }
    )


def test_a_segment_that_converts_less_alarms_and_a_calibrated_cohort_does_not():
    rng = np.random.default_rng(4)
    week = UNTIL - 14 * WEEK
    for shift, expected in ((0.0, []), (-0.25, ["industry=saas"])):
        cohort = _matured(rng, 1500, week, shift)
        row = cohort_table(cohort).iloc[-1].to_dict()
        segments = segment_table(cohort, ["industry"])
        found = alarms.calibration_alarms("mql_to_sql", row, segments)
        assert [a.subject for a in found if a.subject != "all leads"] == expected


def test_calibration_needs_a_difference_that_matters_not_only_a_large_z():
    row = {"week": UNTIL, "rows": 10**6, "predicted": 0.30, "observed": 0.31, "z": 20.0}
    assert alarms.calibration_alarms("mql_to_sql", row, segment_table(pd.DataFrame(), [])) == []


def test_auc_alarm_needs_a_real_drop():
    row = {"week": UNTIL, "rows": 900, "auc": 0.70, "auc_se": 0.02}
    assert [a.check for a in alarms.auc_alarms("mql_to_sql", row, 0.80)] == ["auc"]
    assert alarms.auc_alarms("mql_to_sql", {**row, "auc_se": 0.05}, 0.80) == []  # chance
    assert alarms.auc_alarms("mql_to_sql", {**row, "auc": 0.77}, 0.80) == []  # too small


# --- inflation ----------------------------------------------------------------------------


def test_inflation_against_the_test_share_and_against_a_sales_capacity():
    rng = np.random.default_rng(5)
    reference = _reference(rng)
    week = UNTIL - WEEK
    reference_share = reference["thresholds"]["hand_set"]["share"]
    normal = _week(rng, 1000, week)
    inflated = _week(rng, 1000, week, hand_set_points=rng.normal(40, 10, 1000))
    inflated["passes_threshold"] = inflated["hand_set_points"] >= 35
    for frame, fires in ((normal, False), (inflated, True)):
        shares = weekly_shares(frame, reference, "mql_to_sql", capacity_per_week=None)
        row = shares[shares["threshold"] == "hand_set"].iloc[0]
        assert row["capacity_share"] == reference_share
        found = alarms.inflation_alarms("mql_to_sql", shares, week)
        assert ("hand_set" in [a.subject for a in found]) is fires
    # a capacity of 200 leads a week: 300 crossing it alarms however the share compares
    shares = weekly_shares(normal, reference, "mql_to_sql", capacity_per_week=200)
    crossing = int(normal["passes_threshold"].sum())
    found = alarms.inflation_alarms("mql_to_sql", shares, week)
    assert ("hand_set" in [a.subject for a in found]) is (crossing > 200)
    assert shares["capacity_source"].eq("sales capacity").all()


def test_sql_to_won_is_not_judged_on_the_hand_set_threshold():
    rng = np.random.default_rng(6)
    shares = weekly_shares(
        _week(rng, 200, UNTIL - WEEK), _reference(rng), "sql_to_won", capacity_per_week=None
    )
    assert shares["threshold"].unique().tolist() == ["model_hot"]
