"""Serving models that start from the hand-set rules: the API's probabilities equal the offline
model's with the prior on (compiled trees and LightGBM alike), the rules prior is one named
reason, "your rules", and the calibrated rules alone (the floor) serve too."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from core.settings import Settings
from features.build import build_features
from features.definitions import FEATURE_NAMES
from serving.scoring.scorer import probability
from tests.serving.conftest import SMALL_MODEL, request_of
from training.bundle import ScoringBundle
from training.compiled_trees import trees_library
from training.model import LeadConversionModel
from training.model.prior import HAND_SET_POINTS
from training.rules import score_leads
from training.selection import rules_only
from training.split import time_split

TRANSITIONS = ("mql_to_sql", "sql_to_won")


def _with_points(rows: pd.DataFrame, history, rules) -> pd.DataFrame:
    points = pd.DataFrame({"lead_id": rows["lead_id"], "as_of": rows["decision_time"]})
    return rows.assign(**{HAND_SET_POINTS: score_leads(rules, points, history).total})


@pytest.fixture(scope="module")
def prior_bundles(training_sets, hand_set_rules, simulation) -> dict[str, ScoringBundle]:
    """MQL -> SQL: LightGBM on the rules prior (with trees); SQL -> won: the rules alone."""
    history, features = simulation.history, list(FEATURE_NAMES)
    split = time_split(training_sets["mql_to_sql"].frame)
    train = _with_points(split.train, history, hand_set_rules)
    validation = _with_points(split.validation, history, hand_set_rules)
    on_rules = LeadConversionModel(**SMALL_MODEL, prior_column=HAND_SET_POINTS).fit(
        train[[*features, HAND_SET_POINTS]],
        train["label"],
        eval_set=(validation[[*features, HAND_SET_POINTS]], validation["label"]),
    )
    assert on_rules.best_iteration_ > 0  # the trees correct the rules here
    won = _with_points(training_sets["sql_to_won"].frame, history, hand_set_rules)
    alone = rules_only(won, features=features, why="a test of the floor").model
    return {
        transition: ScoringBundle(
            transition=transition,
            model=model,
            rules=hand_set_rules,
            feature_names=features,
            metrics={"model": {"base_rate": 0.3}},
            trained_at="2026-01-01T00:00:00+00:00",
            data_fingerprint="prior-test",
            compiled_trees=trees_library(model)[0],
        )
        for transition, model in (("mql_to_sql", on_rules), ("sql_to_won", alone))
    }


@pytest.fixture
def prior_client(prior_bundles, tmp_path, make_client):
    for transition, bundle in prior_bundles.items():
        joblib.dump(bundle, tmp_path / f"{transition}.joblib")
    settings = Settings(
        model_dir=tmp_path, mlflow_tracking_uri="sqlite:///unused.db", reasons_per_direction=20
    )
    return make_client(settings)


@pytest.fixture(scope="module")
def rows(training_sets) -> pd.DataFrame:
    """Decision points of both transitions (each is scored by both models)."""
    parts = [s.frame[["lead_id", "decision_time"]].sample(20, random_state=3) for s in
             training_sets.values()]  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def test_served_probability_equals_the_offline_model_with_the_prior_on(
    prior_client, prior_bundles, rows, simulation
):
    models = {m["transition"]: m for m in prior_client.get("/v1/models").json()["models"]}
    assert models["mql_to_sql"]["inference"] == "compiled"  # the trees as machine code
    assert models["sql_to_won"]["inference"] == "lightgbm"  # no trees to compile
    history = simulation.history
    requests = [request_of(history, r.lead_id, r.decision_time) for r in rows.itertuples()]
    points = pd.DataFrame({"lead_id": rows["lead_id"], "as_of": rows["decision_time"]})
    singles = [prior_client.post("/v1/score", json=r).json() for r in requests]
    batch = prior_client.post("/v1/score/batch", json={"leads": requests}).json()
    compared = 0
    for transition in TRANSITIONS:
        offline = prior_bundles[transition].score(points, history)  # the MLflow model's path
        for results in (singles, [item["result"] for item in batch["results"]]):
            for i, result in enumerate(results):
                served = result[transition]["probability"]
                if served is not None:
                    assert served == pytest.approx(offline["probability"][i], rel=0, abs=1e-9)
                    compared += 1
    assert compared >= 60


def test_scorer_forms_the_probability_as_the_offline_model(prior_bundles, rows, simulation):
    """The trees' probability (however computed) plus the prior's log-odds, then calibration:
    bit for bit what predict_proba gives."""
    model = prior_bundles["mql_to_sql"].model
    points = pd.DataFrame({"lead_id": rows["lead_id"], "as_of": rows["decision_time"]})
    frame = build_features(points, simulation.history)
    frame[HAND_SET_POINTS] = score_leads(
        prior_bundles["mql_to_sql"].rules, points, simulation.history
    ).total.to_numpy()
    matrix = model.encode(frame)
    served = probability(model, matrix, model.raw_probability, frame[HAND_SET_POINTS].to_numpy())
    np.testing.assert_array_equal(served, model.predict_proba(frame)[:, 1])
    with pytest.raises(ValueError, match="hand_set_points"):
        probability(model, matrix)  # a model on the rules cannot score without the points


def test_the_rules_prior_is_one_named_reason(prior_client, prior_bundles, lead_request):
    body = prior_client.post("/v1/score", json=lead_request).json()
    points = body["hand_set"]["points"]
    entry = body["mql_to_sql"]
    reasons = entry["reasons_up"] + entry["reasons_down"]
    rules = [r for r in reasons if r["feature"] == "your_rules"]
    prior = prior_bundles["mql_to_sql"].model.prior_
    expected = float(prior.contribution(np.array([points]))[0])
    assert len(rules) == 1 and len(reasons) > 1  # beside the features' reasons
    assert rules[0]["value"] == points
    assert rules[0]["contribution"] == pytest.approx(expected, abs=1e-6)
    sign = "+" if expected > 0 else "-"
    assert rules[0]["text"] == f"Your rules: {points:,.0f} hand-set points ({sign})"
    assert rules[0] in (entry["reasons_up"] if expected > 0 else entry["reasons_down"])


def test_the_rules_alone_serve_with_their_one_reason(prior_client, prior_bundles, lead_request):
    """SQL -> won served by the calibrated rules (no trees): the probability is the calibrated
    score and the only reason is the rules."""
    body = prior_client.post("/v1/score", json=_at_sql(lead_request)).json()
    entry = body["sql_to_won"]
    assert entry["status"] == "open"
    points = body["hand_set"]["points"]
    prior = prior_bundles["sql_to_won"].model.prior_
    assert entry["probability"] == pytest.approx(
        float(expit(prior.logit(np.array([points])))[0]), abs=1e-12
    )
    reasons = entry["reasons_up"] + entry["reasons_down"]
    assert [r["feature"] for r in reasons] == ["your_rules"]
    assert reasons[0]["contribution"] == pytest.approx(
        float(prior.contribution(np.array([points]))[0]), abs=1e-6
    )


def _at_sql(request: dict) -> dict:
    """The lead, having become MQL and then SQL an hour after it was created."""
    body = {**request}
    created = pd.Timestamp(body["lead"]["created_at"])
    body["stage_changes"] = [
        {"stage": stage, "changed_at": (created + pd.Timedelta(hours=h)).isoformat() + "Z"}
        for h, stage in ((1, "mql"), (2, "sql"))
    ]
    return body


def test_a_model_trained_with_other_rules_reads_its_own_rules_points(
    prior_bundles, hand_set_rules, tmp_path, make_client, lead_request, simulation
):
    """The API shows the MQL -> SQL model's rules; an SQL -> won model on other rules (here
    every rule's points and caps doubled) still starts from its own rules' points."""
    doubled = hand_set_rules.model_copy(
        update={"rules": [_doubled(rule) for rule in hand_set_rules.rules]}
    )
    own = prior_bundles["sql_to_won"]
    own = ScoringBundle(**{**own.__dict__, "rules": doubled})
    joblib.dump(prior_bundles["mql_to_sql"], tmp_path / "mql_to_sql.joblib")
    joblib.dump(own, tmp_path / "sql_to_won.joblib")
    client = make_client(Settings(model_dir=tmp_path, mlflow_tracking_uri="sqlite:///unused.db"))
    body = client.post("/v1/score", json=_at_sql(lead_request)).json()
    shown = body["hand_set"]["points"]  # the served (MQL -> SQL model's) rules
    prior = own.model.prior_
    assert body["sql_to_won"]["probability"] == pytest.approx(
        float(expit(prior.logit(np.array([2 * shown])))[0]), abs=1e-12
    )


def _doubled(rule):
    """The rule at twice its points (and cap), so it gives exactly twice as many."""
    update = {"points": 2 * rule.points}
    if getattr(rule, "cap", None) is not None:
        update["cap"] = 2 * rule.cap
    return rule.model_copy(update=update)
