"""A full training run on simulated leads: metrics against the baseline, MLflow run contents,
the registered model servable from raw lead history, and the champion/challenger gate."""

from __future__ import annotations

import io

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from features.build import TrainingSet
from features.online import lead_histories_of
from leadscore.progress import StderrProgress
from training.profile import ATTRIBUTES, monitored_features
from training.rules import score_leads
from training.run import promotion_decision, train_transition
from training.split import time_split
from training.tracking.pyfunc import example_payloads, flat_rows, payloads_of
from training.tracking.runs import load_bundle, registered_name

pytestmark = pytest.mark.slow
WEAK = {"n_estimators": 2, "num_leaves": 2, "learning_rate": 0.01}


@pytest.fixture
def first_run(training_sets, simulation, hand_set_rules, mlflow_store):
    return train_transition(
        training_sets["mql_to_sql"], simulation.history, hand_set_rules, truth=simulation.truth
    )


def test_run_reports_model_and_baseline_on_the_same_test_rows(first_run):
    m = first_run.metrics
    assert m["model"]["rows"] == m["baseline"]["rows"] == first_run.split["test_rows"]
    assert m["model"]["roc_auc"] > m["baseline"]["roc_auc"]
    assert 0 <= m["oracle"]["gap"] < 0.1
    assert {"log_loss", "brier", "ece"} <= set(m["model"])
    assert "log_loss" not in m["baseline"]


def test_run_logs_params_metrics_plots_manifest_and_lineage(first_run):
    client = MlflowClient()
    run = client.get_run(first_run.run_id)
    assert run.data.metrics["model.roc_auc"] == pytest.approx(first_run.metrics["model"]["roc_auc"])
    assert "baseline.lift_10" in run.data.metrics
    assert run.data.params["transition"] == "mql_to_sql"
    assert len(run.data.tags["git_commit"]) >= 7
    assert len(run.data.tags["data_fingerprint"]) == 16
    artifacts = {a.path for a in client.list_artifacts(first_run.run_id)}
    assert {"training_set_manifest.json", "calibration.json", "plots"} <= artifacts
    plots = {a.path for a in client.list_artifacts(first_run.run_id, "plots")}
    assert {
        f"plots/{p}.png"
        for p in ("roc", "precision_recall", "calibration", "gain_lift", "importance")
    } <= plots


def test_run_logs_the_reference_the_monitor_compares_with(first_run, hand_set_rules):
    reference = mlflow.artifacts.load_dict(f"runs:/{first_run.run_id}/monitoring_reference.json")
    model = load_bundle("mql_to_sql").model
    assert reference["transition"] == "mql_to_sql"
    assert list(reference["features"]) == monitored_features(model)
    assert set(ATTRIBUTES) < set(reference["features"])  # and the strongest inputs by gain
    for profile in reference["features"].values():
        assert sum(profile["counts"]) == reference["rows"]["features"]
    assert reference["rows"]["scores"] == first_run.split["test_rows"]
    for profile in reference["scores"].values():
        assert sum(profile["counts"]) == first_run.split["test_rows"]
    test = first_run.metrics["model"]
    assert reference["roc_auc"] == pytest.approx(test["roc_auc"])
    assert reference["thresholds"]["hand_set"]["value"] == hand_set_rules.threshold
    assert reference["thresholds"]["model_hot"]["value"] == pytest.approx(2 * test["base_rate"])
    assert 0 < reference["thresholds"]["model_hot"]["share"] < 1


def test_first_version_becomes_champion(first_run):
    version = MlflowClient().get_model_version_by_alias(registered_name("mql_to_sql"), "champion")
    assert str(version.version) == first_run.version == "1"
    assert first_run.promotion["promote"]
    assert first_run.promotion["reason"].startswith("no champion yet; model AUC")


def test_registered_model_scores_raw_lead_history_like_the_bundle(
    first_run, simulation, training_sets
):
    model = mlflow.pyfunc.load_model(f"models:/{registered_name('mql_to_sql')}@champion")
    rows = training_sets["mql_to_sql"].frame.tail(5)
    payloads = example_payloads(simulation.history, rows)
    served = model.predict(flat_rows(payloads))
    history, points = lead_histories_of(payloads_of(flat_rows(payloads)))
    expected = load_bundle("mql_to_sql").score(points, history)
    np.testing.assert_allclose(served["probability"], expected["probability"])
    within = ["within_30d", "within_60d", "within_90d"]
    assert set(served.columns) == {
        "lead_id",
        "probability",
        "hand_set_points",
        "passes_threshold",
        *within,
    }
    np.testing.assert_allclose(served[within], expected[within], rtol=0, atol=1e-9)
    assert (np.diff(served[within].to_numpy(), axis=1) >= 0).all()


def test_run_fits_judges_and_logs_the_timing_model(first_run):
    """The horizon model ships in the bundle; its test Brier per horizon sits beside the
    classifier's (at 90 days) and the oracle's, in the run's metrics, params and a plot."""
    timing = first_run.metrics["timing"]
    assert list(timing) == ["30", "60", "90"]
    assert {"hazard", "oracle"} <= set(timing["30"]) and "classifier" not in timing["30"]
    assert {"hazard", "classifier", "oracle"} <= set(timing["90"])
    assert timing["90"]["rows"] == first_run.split["test_rows"]
    assert timing["90"]["hazard"] - timing["90"]["oracle"] < 0.03
    run = MlflowClient().get_run(first_run.run_id)
    assert run.data.metrics["timing.90.hazard"] == pytest.approx(timing["90"]["hazard"])
    assert run.data.params["timing.kind"] == "lightgbm"
    plots = {a.path for a in MlflowClient().list_artifacts(first_run.run_id, "plots")}
    assert "plots/timing.png" in plots
    assert load_bundle("mql_to_sql").timing.horizons_days == (30, 60, 90)


def test_weaker_challenger_does_not_replace_the_champion(
    first_run, training_sets, simulation, hand_set_rules
):
    second = train_transition(
        training_sets["mql_to_sql"], simulation.history, hand_set_rules, model_params=WEAK
    )
    client = MlflowClient()
    name = registered_name("mql_to_sql")
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(name, "challenger").version) == "2"
    assert not second.promotion["promote"]
    assert second.promotion["champion_auc"] > second.promotion["challenger_auc"]
    assert client.get_run(second.run_id).data.tags["promotion"] == "challenger"


def test_promote_flag_overrides_the_gate(first_run, training_sets, simulation, hand_set_rules):
    forced = train_transition(
        training_sets["mql_to_sql"],
        simulation.history,
        hand_set_rules,
        model_params=WEAK,
        promote=True,
    )
    assert forced.promotion["promote"] and "forced" in forced.promotion["reason"]
    version = MlflowClient().get_model_version_by_alias(registered_name("mql_to_sql"), "champion")
    assert str(version.version) == forced.version


def test_gate_compares_both_models_on_the_same_rows(first_run, training_sets, simulation):
    champion = load_bundle("mql_to_sql")
    test = training_sets["mql_to_sql"].frame.tail(600)
    points = test[["lead_id"]].assign(as_of=test["decision_time"])
    hand_set = score_leads(champion.rules, points, simulation.history).total
    test = test.assign(hand_set_points=hand_set.to_numpy())  # a model on the rules reads them
    y = test["label"].to_numpy()
    better = champion.score_features(test)
    worse = np.random.default_rng(0).random(len(y))
    assert promotion_decision(y, better, champion, test, override=None)["promote"] is False  # tie
    assert promotion_decision(y, worse, champion, test, override=None)["promote"] is False
    assert promotion_decision(y, worse, champion, test, override=True)["promote"] is True
    assert promotion_decision(y, better, None, test, override=False)["promote"] is False
    assert promotion_decision(y, better, None, test, override=None)["promote"] is True
    assert promotion_decision(y, -better, None, test, override=None)["promote"] is False  # chance
    assert isinstance(pd.Timestamp(champion.trained_at), pd.Timestamp)


@pytest.fixture
def unfit_set(training_sets) -> TrainingSet:
    """mql_to_sql with the outcome recorded the wrong way round in the older rows (train and
    validation) only: the model learns the reverse and ranks the test leads worse than chance,
    while the hand-set rules, scored on the same test rows, keep their usual ROC-AUC."""
    original = training_sets["mql_to_sql"]
    test_from = time_split(original.frame).boundaries[1]
    frame = original.frame.copy()
    older = frame["decision_time"] < test_from
    frame.loc[older, "label"] = 1 - frame.loc[older, "label"]
    return TrainingSet(frame=frame, manifest=original.manifest)


def test_unfit_first_version_stays_challenger_with_the_reason_logged(
    unfit_set, simulation, hand_set_rules, mlflow_store
):
    lines: list[str] = []
    held = train_transition(
        unfit_set, simulation.history, hand_set_rules, model_params=WEAK, progress=lines.append
    )
    model_auc, rules_auc = held.metrics["model"]["roc_auc"], held.metrics["baseline"]["roc_auc"]
    assert model_auc < 0.5 < rules_auc
    assert not held.promotion["promote"]
    reason = held.promotion["reason"]
    assert f"model AUC {model_auc:.4f} <= hand-set rules AUC {rules_auc:.4f}" in reason
    assert "leadscore train --promote" in reason
    assert any(f"registered version 1: {reason}" in line for line in lines)  # printed
    client = MlflowClient()
    name = registered_name("mql_to_sql")
    assert str(client.get_model_version_by_alias(name, "challenger").version) == "1"
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_model_version_by_alias(name, "champion")
    run = client.get_run(held.run_id).data
    assert run.tags["promotion"] == "challenger" and run.tags["promotion_reason"] == reason
    assert run.metrics["promotion.baseline_auc"] == pytest.approx(rules_auc)
    assert run.metrics["promotion.challenger_auc"] == pytest.approx(model_auc)


def test_promote_forces_an_unfit_first_version(unfit_set, simulation, hand_set_rules, mlflow_store):
    forced = train_transition(
        unfit_set, simulation.history, hand_set_rules, model_params=WEAK, promote=True
    )
    assert forced.promotion["promote"]
    assert forced.promotion["reason"].startswith("forced by --promote (the gate alone: no champ")
    version = MlflowClient().get_model_version_by_alias(registered_name("mql_to_sql"), "champion")
    assert str(version.version) == forced.version == "1"


def test_run_says_and_logs_what_serves_and_why(first_run):
    choice = first_run.choice
    assert choice["kind"] in {"with_rules", "plain", "rules_only"} and choice["reason"]
    metrics = first_run.metrics
    assert {"with_rules", "plain", "baseline", "model"} <= set(metrics)
    assert metrics["plain"]["rows"] == metrics["with_rules"]["rows"] == metrics["model"]["rows"]
    client = MlflowClient()
    run = client.get_run(first_run.run_id).data
    assert run.params["model_choice"] == choice["kind"]
    assert run.params["rules_prior"] == "auto" and run.params["min_positives"] == "20"
    assert run.tags["model_choice_reason"] == choice["reason"] and "floor" not in run.tags
    assert "plain.roc_auc" in run.metrics and "with_rules.log_loss" in run.metrics
    decision = mlflow.artifacts.load_dict(f"runs:/{first_run.run_id}/model_choice.json")
    names = [c["name"] for c in decision["candidates"]]
    assert names[:2] == ["plain LightGBM", "your rules alone"] and decision["reason"]


def test_too_few_conversions_serve_the_calibrated_rules_and_say_so(
    training_sets, simulation, hand_set_rules, mlflow_store
):
    lines: list[str] = []
    result = train_transition(
        training_sets["sql_to_won"],
        simulation.history,
        hand_set_rules,
        min_positives=100_000,  # more than the history has: the floor
        progress=lines.append,
    )
    said = [line for line in lines if "too few conversions" in line]
    assert len(said) == 1
    assert said[0].startswith("[sql_to_won] too few conversions to learn from (")
    assert "fewer than the 100000 needed to learn from" in said[0]
    assert result.choice["kind"] == "rules_only" and "plain" not in result.metrics
    assert result.promotion["promote"]  # no champion: the team's own rules serve
    run = MlflowClient().get_run(result.run_id).data
    assert run.params["model_choice"] == "rules_only" and run.params["rules_prior"] == "floor"
    assert run.tags["floor"].startswith("calibrated hand-set score only: ")
    bundle = load_bundle("sql_to_won")
    prior = bundle.model.prior_
    assert bundle.model.booster_ is None and prior.slope > 0
    rows = training_sets["sql_to_won"].frame.tail(4)
    payloads = example_payloads(simulation.history, rows)
    served = mlflow.pyfunc.load_model(f"models:/{registered_name('sql_to_won')}@champion")
    out = served.predict(flat_rows(payloads))
    expected = 1 / (1 + np.exp(-prior.logit(out["hand_set_points"].to_numpy())))
    np.testing.assert_allclose(out["probability"], expected, rtol=1e-12)


def test_a_batch_is_scored_in_chunks_as_at_once_with_its_progress_counted(
    first_run, training_sets, simulation
):
    bundle = load_bundle("mql_to_sql")
    rows = training_sets["mql_to_sql"].frame.tail(25)
    points = pd.DataFrame(
        {"lead_id": rows["lead_id"].to_numpy(), "as_of": rows["decision_time"].to_numpy()}
    )
    out = io.StringIO()
    display = StderrProgress(out, interactive=False)
    chunked = bundle.score(points, simulation.history, progress=display, chunk_rows=10)
    pd.testing.assert_frame_equal(chunked, bundle.score(points, simulation.history))
    lines = out.getvalue().splitlines()
    assert lines[0] == "[mql_to_sql] scoring 25 leads: 0/25 leads"
    assert lines[1:4] == [f"[mql_to_sql] scoring 25 leads: {n} scored" for n in (10, 20, 25)]
    assert lines[4].startswith("[mql_to_sql] scoring 25 leads: 25/25 leads in ")
