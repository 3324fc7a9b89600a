"""The simulator: contract-shaped tables, legal funnels, and calibration to DOMAIN.md.

Small runs check shape and rules; one 200k-lead run (module-scoped, ``slow``) checks the rates
and the known answers on leads whose whole funnel fits before the data end, read from the
tables the way a user would see them.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.contract import STAGE_RANK, TABLES, column_names, dtype_of
from features.simulate import Simulation, roc_auc, simulate

START = pd.Timestamp("2024-01-01")
HORIZON = pd.Timedelta(days=90)
# a lead's funnel ends within ~420 days of its creation (180 d of activity, 60 d MQL lag,
# 90 d to SQL, 90 d to close); a three-year run leaves ~60 % of leads fully observed
BIG_DAYS, FUNNEL_DAYS = 1095, 420


@pytest.fixture(scope="module")
def small() -> Simulation:
    return simulate(3_000, seed=5, start=START, days=400)


@pytest.fixture(scope="module")
def big() -> Simulation:
    return simulate(200_000, seed=2024, start=START, days=BIG_DAYS)


def _data_end(sim: Simulation) -> pd.Timestamp:
    return pd.Timestamp(sim.metadata["data_end"])


def _first_times(sim: Simulation) -> pd.DataFrame:
    """First changed_at per lead (rows) and stage (columns)."""
    stages = sim.history.stage_changes
    return stages.pivot_table(
        index="lead_id", columns="stage", values="changed_at", aggfunc="min", observed=False
    )


def _decisions(sim: Simulation, entry: str, target: str) -> pd.DataFrame:
    """Uncensored decision points of one transition: lead_id, as_of, label."""
    first = _first_times(sim)
    as_of = first[entry].dropna()
    as_of = as_of[as_of + HORIZON <= _data_end(sim)]
    reached = first.loc[as_of.index, target]
    label = reached.notna() & (reached - as_of <= HORIZON)
    return pd.DataFrame({"lead_id": as_of.index, "as_of": as_of.values, "label": label.values})


@pytest.fixture(scope="module")
def mql_rows(big: Simulation) -> pd.DataFrame:
    """Uncensored MQL decisions with the touches each lead had strictly before its MQL time."""
    rows = _decisions(big, "mql", "sql")
    touches = big.history.touches.merge(rows[["lead_id", "as_of"]], on="lead_id")
    before = touches[touches["occurred_at"] < touches["as_of"]]
    age = before["as_of"] - before["occurred_at"]
    kinds = {
        "newsletter": before["action"] == "newsletter_signup",
        "careers": before["page_type"] == "careers",
        "pricing": (before["action"] == "page_view") & (before["page_type"] == "pricing"),
        "demo_7d": (before["action"] == "demo_request") & (age <= pd.Timedelta(days=7)),
        "demo_older": (before["action"] == "demo_request") & (age > pd.Timedelta(days=7)),
    }
    for name, mask in kinds.items():
        rows[name] = rows["lead_id"].isin(before.loc[mask, "lead_id"])
    size = big.history.leads.set_index("lead_id")["company_size"]
    rows["big_company"] = size.reindex(rows["lead_id"]).ge(200).fillna(False).to_numpy(bool)
    return rows


@pytest.fixture(scope="module")
def cohort(big: Simulation) -> pd.DataFrame:
    """Leads created early enough that their whole funnel is observed, with customer flag."""
    leads = big.history.leads
    stages = big.history.stage_changes
    early = leads[leads["created_at"] < _data_end(big) - pd.Timedelta(days=FUNNEL_DAYS)]
    won = stages.loc[stages["stage"] == "won", "lead_id"]
    return early.assign(customer=early["lead_id"].isin(won))


# --- shape --------------------------------------------------------------------------------
def test_tables_have_exactly_the_contract_columns_and_dtypes(small: Simulation) -> None:
    for table in TABLES:
        frame = getattr(small.history, table)
        assert list(frame.columns) == column_names(table)
        for column in TABLES[table]:
            expected = dtype_of(column) or "int64"
            assert frame[column.name].dtype == expected, (table, column.name)


def test_lead_ids_run_from_one_to_n(small: Simulation) -> None:
    assert small.history.leads["lead_id"].tolist() == list(range(1, 3_001))
    for table in ("touches", "stage_changes"):
        assert getattr(small.history, table)["lead_id"].between(1, 3_000).all()


def test_truth_has_its_columns_and_probabilities_strictly_between_zero_and_one(
    small: Simulation,
) -> None:
    truth = small.truth
    assert list(truth.columns) == ["lead_id", "transition", "decision_time", "true_probability"]
    assert truth["decision_time"].dtype == "datetime64[ns]"
    assert set(truth["transition"]) == {"mql_to_sql", "sql_to_won"}
    assert truth["true_probability"].between(0, 1, inclusive="neither").all()


def test_same_seed_gives_identical_frames_and_other_seed_differs() -> None:
    a, b = (simulate(1_500, seed=3, start=START, days=300) for _ in range(2))
    c = simulate(1_500, seed=4, start=START, days=300)
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(a.history, table), getattr(b.history, table))
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert not a.history.touches.equals(c.history.touches)


def test_timezone_aware_start_becomes_naive_utc() -> None:
    sim = simulate(200, seed=1, start=pd.Timestamp("2024-01-01 01:00", tz="Europe/Berlin"), days=60)
    assert sim.history.leads["created_at"].dtype == "datetime64[ns]"
    assert sim.history.leads["created_at"].min() >= pd.Timestamp("2024-01-01 00:00")
    assert sim.metadata["data_end"] == "2024-03-01T00:00:00"


def test_a_single_lead_still_gives_contract_tables() -> None:
    sim = simulate(1, seed=0, start=START, days=30)
    assert sim.history.leads["lead_id"].tolist() == [1]
    assert (sim.history.stage_changes["stage"] == "lead").sum() == 1
    json.dumps(sim.metadata)


def test_progress_reports_a_few_lines() -> None:
    lines: list[str] = []
    simulate(300, seed=1, start=START, days=60, progress=lines.append)
    assert 3 <= len(lines) <= 10
    assert any("touches" in line for line in lines)


# --- time rules ---------------------------------------------------------------------------
def test_no_event_happens_before_its_lead_was_created(small: Simulation) -> None:
    created = small.history.leads.set_index("lead_id")["created_at"]
    for table, column in (("touches", "occurred_at"), ("stage_changes", "changed_at")):
        frame = getattr(small.history, table)
        assert (frame[column] >= created.loc[frame["lead_id"]].to_numpy()).all(), table


def test_nothing_happens_at_or_after_the_data_end(small: Simulation) -> None:
    end = _data_end(small)
    assert end == START + pd.Timedelta(days=400)
    assert small.history.leads["created_at"].max() < end
    assert small.history.touches["occurred_at"].max() < end
    assert small.history.stage_changes["changed_at"].max() < end
    assert small.truth["decision_time"].max() < end


def test_every_lead_has_a_lead_stage_at_created_at(small: Simulation) -> None:
    stages = small.history.stage_changes
    lead_rows = stages[stages["stage"] == "lead"].set_index("lead_id")["changed_at"]
    created = small.history.leads.set_index("lead_id")["created_at"]
    pd.testing.assert_series_equal(lead_rows.sort_index(), created, check_names=False)


def test_stage_changes_follow_the_legal_order(small: Simulation) -> None:
    stages = small.history.stage_changes.sort_values(["lead_id", "changed_at"], kind="stable")
    rank = stages["stage"].map(STAGE_RANK).astype(int)
    assert (rank.groupby(stages["lead_id"]).diff().dropna() >= 0).all()
    per_lead = stages.groupby(["lead_id", "stage"], observed=True).size()
    assert (per_lead == 1).all()
    closed = stages[stages["stage"].isin(["won", "lost"])]
    assert closed["lead_id"].is_unique  # never both won and lost
    won = set(stages.loc[stages["stage"] == "won", "lead_id"])
    assert won <= set(stages.loc[stages["stage"] == "sql", "lead_id"])


def test_sql_and_won_happen_within_the_horizon(small: Simulation) -> None:
    first = _first_times(small)
    for entry, target in (("mql", "sql"), ("sql", "won")):
        gap = (first[target] - first[entry]).dropna()
        assert len(gap) > 0
        assert (gap > pd.Timedelta(0)).all() and (gap < HORIZON).all()


def test_truth_has_one_row_per_transition_entered_before_the_data_end(small: Simulation) -> None:
    stages = small.history.stage_changes
    for transition, entry in (("mql_to_sql", "mql"), ("sql_to_won", "sql")):
        truth = small.truth[small.truth["transition"] == transition]
        entered = stages[stages["stage"] == entry].sort_values("lead_id")
        assert truth["lead_id"].tolist() == entered["lead_id"].tolist()
        assert truth["decision_time"].tolist() == entered["changed_at"].tolist()


# --- metadata and known answers ------------------------------------------------------------
def test_metadata_records_seed_data_end_parameters_rates_and_is_json(small: Simulation) -> None:
    meta = small.metadata
    assert meta["seed"] == 5 and meta["n_leads"] == 3_000
    assert {"parameters", "true_effects", "achieved_rates", "data_end"} <= set(meta)
    json.dumps(meta)
    for effect in meta["true_effects"].values():
        assert set(effect) == {"mql_to_sql", "sql_to_won", "description"}


def test_true_effects_hold_the_known_answers(small: Simulation) -> None:
    effects = {k: v["mql_to_sql"] for k, v in small.metadata["true_effects"].items()}
    assert effects["newsletter_signup"] == 0 and effects["qr_scan"] == 0
    for negative in (
        "careers_page_view",
        "unsubscribe",
        "email_domain_type=free",
        "job_level=student",
        "days_since_last_engagement",
    ):
        assert effects[negative] < 0, negative
    for strong in (
        "pricing_page_view_x_company_size_200plus",
        "webinar_attend",
        "case_study_view",
        "demo_request_7d",
    ):
        assert effects[strong] >= 0.5, strong
    assert effects["demo_request_7d"] > 3 * effects["demo_request_older"]
    assert effects["pricing_page_view_x_company_size_200plus"] > 3 * effects["pricing_page_view"]


# --- calibration (one 200k-lead run) -------------------------------------------------------
@pytest.mark.slow
def test_most_leads_are_informational_and_rarer_types_convert_better(
    cohort: pd.DataFrame,
) -> None:
    share = cohort["lead_type"].value_counts(normalize=True)
    assert 0.85 <= share["informational"] <= 0.95
    rate = cohort.groupby("lead_type", observed=True)["customer"].mean()
    assert rate["hand_raiser"] > 2.5 * rate["informational"]
    assert rate["transactional"] > 1.5 * rate["informational"]


@pytest.mark.slow
def test_category_conversion_rates_fall_in_seed_ranges(cohort: pd.DataFrame) -> None:
    share = cohort["lead_category"].value_counts(normalize=True, dropna=False)
    assert share.idxmax() == "plain" and share.loc["bant"] == share.drop(np.nan).min()
    assert 0.01 <= share.loc[np.nan] <= 0.06
    rate = cohort.groupby("lead_category", observed=True)["customer"].mean()
    ranges = {
        "plain": (0.01, 0.02),
        "two_touch": (0.02, 0.03),
        "profiling_question": (0.03, 0.05),
        "qualified_question": (0.03, 0.05),
        "bant": (0.05, 0.07),
    }
    for category, (low, high) in ranges.items():
        assert low <= rate[category] <= high, (category, rate[category])


@pytest.mark.slow
def test_industry_conversion_rates_are_near_the_seed_table(cohort: pd.DataFrame) -> None:
    seed = {
        "higher_education": 0.014,
        "b2b_services": 0.027,
        "software_saas": 0.011,
        "financial_services": 0.0501,
        "b2b_ecommerce": 0.018,
        "media_publishing": 0.10,
        "commercial_real_estate": 0.028,
        "staffing": 0.051,
        "shipping_logistics": 0.027,
        "manufacturing": 0.025,
    }
    assert 0.08 <= cohort["industry"].isna().mean() <= 0.12
    rate = cohort.groupby("industry", observed=True)["customer"].mean()
    for industry, expected in seed.items():
        assert rate[industry] == pytest.approx(expected, rel=0.3), industry
    assert rate.idxmax() == "media_publishing" and rate.idxmin() == "software_saas"


@pytest.mark.slow
def test_funnel_rates_match_the_domain_benchmarks(big: Simulation, cohort: pd.DataFrame) -> None:
    assert 0.01 <= cohort["customer"].mean() <= 0.05
    mql = cohort["lead_id"].isin(big.history.stage_changes.query("stage == 'mql'")["lead_id"])
    assert 0.25 <= mql.mean() <= 0.40
    assert 0.15 <= _decisions(big, "mql", "sql")["label"].mean() <= 0.40
    assert 0.18 <= _decisions(big, "sql", "won")["label"].mean() <= 0.22


@pytest.mark.slow
def test_touch_volume_and_channels_look_like_b2b_nurturing(big: Simulation) -> None:
    touches = big.history.touches
    assert 20 <= len(touches) / len(big.history.leads) <= 30
    channel = touches["channel"].value_counts(normalize=True)
    assert channel.idxmax() == "email" and (channel > 0.003).all()
    times = touches.groupby("lead_id")["occurred_at"]
    span = times.max() - times.min()
    assert pd.Timedelta(days=21) <= span.median() <= pd.Timedelta(days=120)


@pytest.mark.slow
def test_crm_gaps_are_present(big: Simulation) -> None:
    leads, touches = big.history.leads, big.history.touches
    assert 0.06 <= (leads["source"] == "unknown").mean() <= 0.10
    for column in ("industry", "job_level", "company_size", "annual_revenue", "department"):
        assert 0.02 <= leads[column].isna().mean() <= 0.30, column
    views = touches[touches["action"] == "page_view"]
    assert 0.02 <= views["page_type"].isna().mean() <= 0.10
    assert 0.05 <= views["duration_s"].isna().mean() <= 0.20


@pytest.mark.slow
def test_true_probabilities_average_to_the_realised_rates(big: Simulation) -> None:
    for transition, entry, target in (("mql_to_sql", "mql", "sql"), ("sql_to_won", "sql", "won")):
        rows = _decisions(big, entry, target)
        truth = big.truth[big.truth["transition"] == transition].set_index("lead_id")
        p = truth.loc[rows["lead_id"], "true_probability"]
        assert p.mean() == pytest.approx(rows["label"].mean(), abs=0.015), transition


@pytest.mark.slow
def test_oracle_auc_is_in_a_sensible_band(big: Simulation) -> None:
    bands = {"mql_to_sql": (0.78, 0.88), "sql_to_won": (0.68, 0.82)}
    for transition, entry, target in (("mql_to_sql", "mql", "sql"), ("sql_to_won", "sql", "won")):
        rows = _decisions(big, entry, target)
        truth = big.truth[big.truth["transition"] == transition].set_index("lead_id")
        auc = roc_auc(truth.loc[rows["lead_id"], "true_probability"].to_numpy(), rows["label"])
        low, high = bands[transition]
        assert low <= auc <= high, (transition, auc)


@pytest.mark.slow
def test_newsletter_signup_before_mql_barely_changes_conversion(mql_rows: pd.DataFrame) -> None:
    rate = mql_rows.groupby("newsletter")["label"].mean()
    assert 0.1 <= mql_rows["newsletter"].mean() <= 0.5  # popular ...
    assert abs(rate[True] - rate[False]) < 0.03  # ... and worth nothing


@pytest.mark.slow
def test_careers_page_leads_convert_worse(mql_rows: pd.DataFrame) -> None:
    rate = mql_rows.groupby("careers")["label"].mean()
    assert rate[True] < rate[False] - 0.05


@pytest.mark.slow
def test_pricing_views_matter_more_for_companies_of_200_or_more(mql_rows: pd.DataFrame) -> None:
    def odds_ratio(rows: pd.DataFrame) -> float:
        odds = rows.groupby("pricing")["label"].mean().pipe(lambda p: p / (1 - p))
        return float(odds[True] / odds[False])

    big_firms = odds_ratio(mql_rows[mql_rows["big_company"]])
    small_firms = odds_ratio(mql_rows[~mql_rows["big_company"]])
    assert big_firms > 1.3 * small_firms > 1.0


@pytest.mark.slow
def test_recent_demo_request_converts_better_than_an_old_one(mql_rows: pd.DataFrame) -> None:
    recent = mql_rows.loc[mql_rows["demo_7d"], "label"].mean()
    old_only = mql_rows.loc[mql_rows["demo_older"] & ~mql_rows["demo_7d"], "label"].mean()
    assert recent > old_only + 0.1


@pytest.mark.slow
def test_touches_after_mql_leak_the_label(big: Simulation, mql_rows: pd.DataFrame) -> None:
    """Post-decision data exists and predicts the outcome: what leakage tests must guard."""
    touches = big.history.touches.merge(mql_rows[["lead_id", "as_of", "label"]], on="lead_id")
    after = touches[touches["occurred_at"] > touches["as_of"]]
    meetings = after[after["action"] == "meeting_booked"]["lead_id"].unique()
    has_meeting = mql_rows["lead_id"].isin(meetings)
    rate = mql_rows.groupby(has_meeting)["label"].mean()
    assert rate[True] > rate[False] + 0.3
