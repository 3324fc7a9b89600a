"""Models load once at start-up from the registry or a folder; reload swaps them in whole and a
failed reload leaves the old ones serving; no model at all fails fast."""

from __future__ import annotations

import asyncio

import joblib
import pytest
from fastapi.testclient import TestClient

from core.errors import ModelNotFoundError
from core.settings import Settings, get_settings
from serving.api import app as app_module
from serving.api.app import create_app, run_server
from tests.serving.conftest import register, train_bundle
from training import tracking


@pytest.fixture
def empty_store(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'empty.db'}"


def test_no_registered_model_stops_start_up_with_train_first(no_tracking_env, empty_store):
    app = create_app(Settings(mlflow_tracking_uri=empty_store))
    with pytest.raises(ModelNotFoundError, match="train first"), TestClient(app):
        pass


def test_versions_without_a_champion_name_the_best_challenger_and_the_fix(
    no_tracking_env, tmp_path, bundles, simulation, training_sets
):
    """The gate kept a first version that did not beat the hand-set rules as challenger:
    serve says so, with the version, the gate's reason and the command that fixes it."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking.configure(uri, tmp_path / "mlartifacts", "leadscore-test")
    reason = (
        "no champion yet, but model AUC 0.4910 <= hand-set rules AUC 0.6612 on the same test "
        "rows; stays challenger (leadscore train --promote forces it)"
    )
    register(
        bundles["mql_to_sql"],
        simulation.history,
        training_sets["mql_to_sql"].frame.tail(2),
        decision={"promote": False, "reason": reason, "challenger_auc": 0.491},
    )
    app = create_app(
        Settings(mlflow_tracking_uri=uri, mlflow_artifacts_dir=tmp_path / "mlartifacts")
    )
    with pytest.raises(ModelNotFoundError) as caught, TestClient(app):
        pass
    message = str(caught.value)
    assert "no model leadscore-mql-to-sql@champion" in message
    assert "1 version, none is champion; the best, version 1, test ROC-AUC 0.491" in message
    assert reason in message
    fix = "point the alias champion at version 1 (`leadscore rollback mql_to_sql --to 1`)"
    assert fix in message
    assert "`leadscore train --promote`" in message
    assert "\n" not in message


def test_run_server_fails_before_uvicorn_starts(
    no_tracking_env, empty_store, monkeypatch, tmp_path
):
    monkeypatch.setenv("LEADSCORE_MLFLOW_TRACKING_URI", empty_store)
    monkeypatch.setenv("LEADSCORE_MLFLOW_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    get_settings.cache_clear()
    started = []
    monkeypatch.setattr(app_module.uvicorn, "run", lambda *a, **k: started.append(a))
    try:
        with pytest.raises(ModelNotFoundError, match="leadscore-mql-to-sql@champion"):
            run_server(host="127.0.0.1", port=0, workers=1)
    finally:
        get_settings.cache_clear()
    assert not started
    assert ModelNotFoundError.exit_code == 1


def test_models_load_from_a_folder(no_tracking_env, bundles, tmp_path, make_client, lead_request):
    for transition, bundle in bundles.items():
        joblib.dump(bundle, tmp_path / f"{transition}.joblib")
    client = make_client(Settings(model_dir=tmp_path, mlflow_tracking_uri="sqlite:///unused.db"))
    models = client.get("/v1/models").json()["models"]
    assert [(m["version"], m["alias"], m["source"]) for m in models] == [
        (None, None, str(tmp_path))
    ] * 2
    assert client.post("/v1/score", json=lead_request).status_code == 200


def test_a_folder_without_models_says_what_it_expected(no_tracking_env, tmp_path):
    app = create_app(Settings(model_dir=tmp_path))
    with pytest.raises(ModelNotFoundError, match=r"mql_to_sql\.joblib"), TestClient(app):
        pass


def test_failed_reload_keeps_the_old_models_serving(client, lead_request, empty_store, monkeypatch):
    before = client.post("/v1/score", json=lead_request).json()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", empty_store)  # the registry is gone
    response = client.post("/v1/models/reload")
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "model_not_found"
    assert "reload failed, still serving leadscore-mql-to-sql version 1" in body["detail"]
    assert "train first" in body["detail"]
    after = client.post("/v1/score", json=lead_request).json()
    assert after["mql_to_sql"] == before["mql_to_sql"]
    assert client.get("/readyz").status_code == 200
    assert 'leadscore_model_reloads_total{result="failed"} 1.0' in client.get("/metrics").text


def test_reload_serves_a_new_champion_without_dropping_requests(
    tmp_path,
    registry,
    bundles,
    training_sets,
    simulation,
    hand_set_rules,
    make_client,
    lead_request,
):
    store = registry.model_copy(
        update={
            "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "mlflow_artifacts_dir": tmp_path / "mlartifacts",
        }
    )
    tracking.configure(store.mlflow_tracking_uri, store.mlflow_artifacts_dir, store.experiment)
    for transition, bundle in bundles.items():
        register(bundle, simulation.history, training_sets[transition].frame.tail(2))
    client = make_client(store)
    old = client.post("/v1/score", json=lead_request).json()["mql_to_sql"]
    assert old["model"]["version"] == "1"

    tracking.configure(store.mlflow_tracking_uri, store.mlflow_artifacts_dir, store.experiment)
    newer = train_bundle(training_sets["mql_to_sql"], hand_set_rules, seed=5)
    newer.model.set_params(learning_rate=0.2)
    register(newer, simulation.history, training_sets["mql_to_sql"].frame.tail(2))

    async def score_while_reloading():
        # requests in flight and arriving during the reload are all answered
        loop = asyncio.get_running_loop()

        def post(path, **kwargs):
            return loop.run_in_executor(None, lambda: client.post(path, **kwargs))

        scores = [post("/v1/score", json=lead_request) for _ in range(6)]
        reload = post("/v1/models/reload")
        scores += [post("/v1/score", json=lead_request) for _ in range(6)]
        return await reload, await asyncio.gather(*scores)

    reload, scores = asyncio.run(score_while_reloading())
    assert reload.status_code == 200
    assert {m["transition"]: m["version"] for m in reload.json()["models"]} == {
        "mql_to_sql": "2",
        "sql_to_won": "1",
    }
    assert all(s.status_code == 200 for s in scores)
    assert {s.json()["mql_to_sql"]["model"]["version"] for s in scores} <= {"1", "2"}
    new = client.post("/v1/score", json=lead_request).json()["mql_to_sql"]
    assert new["model"]["version"] == "2"
    assert new["probability"] == pytest.approx(
        float(newer.score_features(_features(lead_request))[0]), rel=1e-12
    )


def _features(request: dict):
    import pandas as pd

    from features.build import build_features
    from features.online import lead_histories_of

    history, points = lead_histories_of([{**request, "as_of": pd.Timestamp(request["as_of"])}])
    return build_features(points, history)
