"""Drift injected into the simulator: each kind changes what it names, from its start day,
and nothing else; no drift gives exactly the frames of a plain run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.simulate import Simulation, simulate
from features.simulation.drift import ConversionShift, FormDropsField, SourceMixShift

START = pd.Timestamp("2024-01-01")
LEADS, DAYS, SEED = 3_000, 400, 5


@pytest.fixture(scope="module")
def plain() -> Simulation:
    return simulate(LEADS, seed=SEED, start=START, days=DAYS)


def _since(frame: pd.DataFrame, column: str, day: int) -> pd.Series:
    return frame[column] >= START + pd.Timedelta(days=day)


def _assert_same_tables(a: Simulation, b: Simulation, tables=("leads", "touches", "stage_changes")):
    for table in tables:
        pd.testing.assert_frame_equal(getattr(a.history, table), getattr(b.history, table))


def test_no_drift_gives_the_plain_frames(plain):
    again = simulate(LEADS, seed=SEED, start=START, days=DAYS, drifts=())
    _assert_same_tables(plain, again)
    pd.testing.assert_frame_equal(plain.truth, again.truth)
    assert "drifts" not in again.metadata


def test_source_mix_shift_moves_new_leads_to_the_source_only_after_it_starts(plain):
    drift = SourceMixShift(starts_day=200, source="paid_search", share=0.5)
    shifted = simulate(LEADS, seed=SEED, start=START, days=DAYS, drifts=[drift])
    leads, before = shifted.history.leads, plain.history.leads
    late = _since(leads, "created_at", 200)
    pd.testing.assert_frame_equal(leads[~late], before[~late])
    share = (leads.loc[late, "source"] == "paid_search").mean()
    plain_share = (before.loc[late, "source"] == "paid_search").mean()
    # half of the late leads moved; the rest kept their draw (12 % paid search)
    assert 0.5 + 0.5 * plain_share - 0.05 < share < 0.5 + 0.5 * plain_share + 0.05
    assert shifted.metadata["drifts"] == [
        {"kind": "SourceMixShift", "starts_day": 200, "source": "paid_search", "share": 0.5}
    ]


def test_form_drops_field_blanks_the_column_of_new_leads_and_changes_nothing_else(plain):
    drifted = simulate(
        LEADS, seed=SEED, start=START, days=DAYS, drifts=[FormDropsField(300, "job_level")]
    )
    leads = drifted.history.leads
    late = _since(leads, "created_at", 300)
    assert late.sum() > 100
    assert leads.loc[late, "job_level"].isna().all()
    assert leads.loc[~late, "job_level"].notna().mean() > 0.85
    # the lead is what it was: same behaviour, same outcomes, same true probabilities
    pd.testing.assert_frame_equal(
        leads.drop(columns="job_level"), plain.history.leads.drop(columns="job_level")
    )
    _assert_same_tables(drifted, plain, ("touches", "stage_changes"))
    pd.testing.assert_frame_equal(drifted.truth, plain.truth)


def test_conversion_shift_moves_the_true_log_odds_of_the_segment_from_its_start(plain):
    drift = ConversionShift(100, "mql_to_sql", "industry", "software_saas", log_odds=-1.5)
    shifted = simulate(LEADS, seed=SEED, start=START, days=DAYS, drifts=[drift])
    key = ["lead_id", "transition", "decision_time"]
    both = plain.truth.merge(shifted.truth, on=key, suffixes=("_plain", "_shifted"))
    both = both[both["transition"] == "mql_to_sql"]
    industry = plain.history.leads.set_index("lead_id")["industry"]
    hit = (both["lead_id"].map(industry) == "software_saas") & _since(both, "decision_time", 100)
    assert hit.sum() > 20

    def logit(p):
        return np.log(p / (1 - p))

    moved = logit(both["true_probability_shifted"]) - logit(both["true_probability_plain"])
    np.testing.assert_allclose(moved[hit], -1.5, atol=1e-9)
    np.testing.assert_array_equal(moved[~hit], 0.0)


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: SourceMixShift(10, "tiktok", 0.5), "'tiktok' is not a source"),
        (lambda: SourceMixShift(10, "email", 1.5), "share must be in (0, 1]"),
        (lambda: FormDropsField(10, "lead_type"), "'lead_type' is not a lead attribute that"),
        (lambda: ConversionShift(10, "lead_to_won", "industry", "staffing", 1.0), "unknown"),
    ],
)
def test_a_drift_naming_what_does_not_exist_is_refused(make, fragment):
    with pytest.raises(ValueError, match=None) as error:
        make()
    assert fragment in str(error.value)
