"""The model's encoding equals what LightGBM saw at fit time; reasons read as sentences."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.build import build_features
from features.definitions import FEATURES_BY_NAME
from serving.scoring.reasons import ReasonWriter, _phrase
from serving.scoring.scorer import _priorities, priority, probability, transition_status
from serving.scoring.served import inputs_key


@pytest.fixture(scope="module")
def feature_rows(training_sets, simulation):
    rows = training_sets["sql_to_won"].frame.sample(40, random_state=2)
    points = rows[["lead_id"]].assign(as_of=rows["decision_time"].to_numpy())
    features = build_features(points.reset_index(drop=True), simulation.history)
    features.loc[:4, "country"] = "Atlantis"  # never seen in training
    features.loc[5:8, "industry"] = None
    return features


@pytest.mark.parametrize("transition", ["mql_to_sql", "sql_to_won"])
def test_model_encoding_gives_exactly_the_fit_time_outputs(bundles, feature_rows, transition):
    model = bundles[transition].model
    matrix = model.encode(feature_rows)  # the whole feature frame: the model picks its inputs
    X = feature_rows[bundles[transition].feature_names]
    prepared = model._prepare(X)  # pandas categoricals, as LightGBM was fitted on
    at = {"num_iteration": model.best_iteration_}
    np.testing.assert_array_equal(
        model.raw_probability(matrix), model.booster_.predict(prepared, **at)
    )
    np.testing.assert_array_equal(
        model.contribution_matrix(matrix),
        model.booster_.predict(prepared, pred_contrib=True, **at),
    )
    np.testing.assert_array_equal(probability(model, matrix), model.predict_proba(X)[:, 1])
    np.testing.assert_array_equal(
        model.contribution_matrix(matrix), model.contributions(X).to_numpy()
    )


def test_unseen_category_becomes_missing(bundles, feature_rows):
    model = bundles["mql_to_sql"].model
    matrix = model.encode(feature_rows)
    country = model.input_encoding_.level_at["country"]
    assert np.isnan(matrix[:5, country]).all()
    assert not np.isnan(matrix[10:, country]).any()


def test_models_reading_the_same_inputs_share_a_key(bundles):
    assert inputs_key(bundles["mql_to_sql"].model) == inputs_key(bundles["sql_to_won"].model)


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("pricing_page_touches_7d", 3, "3 touches of pricing content in the last 7 days"),
        ("pricing_page_touches_7d", 1, "1 touch of pricing content in the last 7 days"),
        ("demo_request_count_all", 2, "2 demo request actions ever"),
        ("touches_30d", 12, "12 touches in the last 30 days"),
        ("days_since_last_pricing_page_touch", 2.4, "Last touch of pricing content 2 days ago"),
        ("days_since_last_pricing_page_touch", math.nan, "No touches of pricing content yet"),
        ("days_since_last_touch", 0.2, "Last touch less than a day ago"),
        ("careers_page_seconds_30d", 95.0, "95 seconds spent on careers pages in the last 30 days"),
        ("email_open_rate", 0.4, "Opened 40% of e-mails sent"),
        ("email_open_rate", math.nan, "No e-mails sent yet"),
        ("industry", "software_saas", "Industry: software saas"),
        ("industry", None, "Industry unknown"),
        ("has_phone", 0.0, "No phone number"),
        ("days_since_mql", math.nan, "Not MQL yet"),
        ("has_reached_sal", 1.0, "Sales already accepted the lead"),
    ],
)
def test_feature_values_read_as_sentences(name, value, text):
    assert _phrase(FEATURES_BY_NAME[name])(value) == text


def test_every_feature_has_a_sentence_for_any_value():
    for feature in FEATURES_BY_NAME.values():
        for value in (0, 1, 2.5, math.nan, None, "x"):
            assert _phrase(feature)(value)


def test_reasons_are_the_strongest_each_way_with_signs():
    names = ["pricing_page_touches_7d", "careers_page_touches_30d", "country", "touches_3d"]
    writer = ReasonWriter(names)
    values = [3.0, 2.0, "XX", 0.0]
    up, down = writer.explain(
        np.array([0.8, -0.5, -0.1, 0.0]), lambda j: values[j], top=3, unseen={2: True}
    )
    assert [r["text"] for r in up] == ["3 touches of pricing content in the last 7 days (+)"]
    assert [r["feature"] for r in down] == ["careers_page_touches_30d", "country"]
    assert down[1]["text"] == "Country: XX (new to the model, counted as unknown) (-)"
    assert writer.explain(np.array([0.8, -0.5, 0.1, 0.2]), lambda j: values[j], top=1) == (
        [up[0] | {"contribution": 0.8}],
        [down[0]],
    )


@pytest.mark.parametrize(
    ("reached", "lost", "mql_to_sql", "sql_to_won"),
    [
        (0, False, "hypothetical", "not_reached"),
        (1, False, "open", "hypothetical"),
        (2, False, "open", "hypothetical"),
        (3, False, "converted", "open"),
        (4, False, "converted", "converted"),
        (3, True, "converted", "lost"),
        (1, True, "lost", "lost"),
        (0, True, "lost", "lost"),
    ],
)
def test_stage_semantics(reached, lost, mql_to_sql, sql_to_won):
    assert transition_status("mql_to_sql", reached, lost) == mql_to_sql
    assert transition_status("sql_to_won", reached, lost) == sql_to_won


def test_priority_tiers_follow_the_base_rate():
    assert priority(0.5, 0.2) == "hot"
    assert priority(0.3, 0.2) == "warm"
    assert priority(0.1, 0.2) == "cold"
    assert priority(None, 0.2) == "closed"


@pytest.mark.parametrize(
    "base_rates",
    [{"mql_to_sql": 0.2, "sql_to_won": 0.1}, {"mql_to_sql": None, "sql_to_won": 0.0}],
)
def test_batch_priorities_are_priority_lead_by_lead(base_rates):
    """On arrays, every stage gets what ``priority`` gives its active transition's probability
    (none when that transition is not open or hypothetical), thresholds and NaN included."""
    ps = [0.0, 0.1, 0.2, 0.25, 0.4, 0.5, 1.0, math.nan]
    cases = [
        (rank, lost, p_sql, p_won)
        for rank in range(5)
        for lost in (False, True)
        for p_sql in ps
        for p_won in ps
    ]
    expected = []
    for rank, lost, p_sql, p_won in cases:
        active, p = ("sql_to_won", p_won) if rank == 3 else ("mql_to_sql", p_sql)
        scored = transition_status(active, rank, lost) in ("open", "hypothetical")
        closed = lost or rank >= 4
        expected.append("closed" if closed else priority(p if scored else None, base_rates[active]))
    columns = list(zip(*cases, strict=True))
    got = _priorities(
        np.array(columns[0]),
        np.array(columns[1]),
        {"mql_to_sql": np.array(columns[2]), "sql_to_won": np.array(columns[3])},
        base_rates,
    )
    assert got == expected


def test_the_api_path_encodes_exactly_what_the_offline_path_encodes(bundles, simulation):
    """Records -> arrays -> matrix (the API) equals tables -> feature frame -> matrix."""
    from features.build import feature_columns
    from features.online import lead_histories_of, visible_of

    history = simulation.history
    lead_ids = history.leads["lead_id"].sample(30, random_state=3).to_numpy()
    touches, stages = history.touches.groupby("lead_id"), history.stage_changes.groupby("lead_id")
    end = history.touches["occurred_at"].max()
    payloads = []
    for i, lead_id in enumerate(lead_ids):
        lead = history.leads[history.leads["lead_id"] == lead_id].iloc[0]
        lead = {k: None if not isinstance(v, str) and pd.isna(v) else v for k, v in lead.items()}

        def records(groups, lead_id=lead_id):
            if lead_id not in groups.groups:
                return []
            frame = groups.get_group(lead_id).drop(columns="lead_id").astype(object)
            return frame.where(frame.notna(), None).to_dict("records")

        payloads.append(
            {
                "lead": {**lead, "lead_id": i},
                "touches": records(touches),
                "stage_changes": records(stages),
                "as_of": end - pd.Timedelta(days=30 * (i % 5)),
            }
        )
    loaded, points = lead_histories_of(payloads)
    offline = build_features(points, loaded)
    online = feature_columns(visible_of(payloads))
    for bundle in bundles.values():
        model = bundle.model
        np.testing.assert_array_equal(
            model.encode_columns(online, len(payloads)), model.encode(offline)
        )
