"""Workers that share a folder (``Settings.runtime_dir``) follow each other's reloads: apps built
in this process stand for the workers of one server, on a registry of the module's own."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from serving.scoring.generation import SharedGeneration
from tests.serving.conftest import ReloadStore
from tests.serving.scoring.test_models_loading import _features


@pytest.fixture
def store(reload_store: ReloadStore, no_tracking_env) -> ReloadStore:
    reload_store.make_champion("1")  # each test starts from version 1
    return reload_store


@pytest.fixture
def worker_settings(store: ReloadStore, tmp_path: Path) -> Settings:
    """Settings of the workers of one server: the store, one shared folder."""
    return store.settings.model_copy(update={"runtime_dir": tmp_path / "runtime"})


def _mql_version(answer) -> str:
    assert answer.status_code == 200, answer.text
    return answer.json()["mql_to_sql"]["model"]["version"]


def _counter(settings: Settings) -> int:
    shared = SharedGeneration(settings.runtime_dir)
    try:
        return shared.counter()
    finally:
        shared.close()


def _metric(client: TestClient, line_start: str) -> str | None:
    text = client.get("/metrics").text
    return next((line for line in text.splitlines() if line.startswith(line_start)), None)


def test_a_reload_by_one_worker_reaches_the_other_before_its_next_answer(
    store, worker_settings, make_client, lead_request, newer_bundle
):
    first, second = make_client(worker_settings), make_client(worker_settings)
    assert _mql_version(second.post("/v1/score", json=lead_request)) == "1"
    store.make_champion("2")

    reload = first.post("/v1/models/reload")
    assert reload.status_code == 200
    assert reload.json()["generation"] == 2 == _counter(worker_settings)

    answer = second.post("/v1/score", json=lead_request)  # the next answer of the other worker
    assert _mql_version(answer) == "2"
    assert answer.json()["mql_to_sql"]["probability"] == pytest.approx(
        float(newer_bundle.score_features(_features(lead_request))[0]), rel=1e-12
    )
    models = second.get("/v1/models").json()
    assert models["generation"] == 2
    assert [m["version"] for m in models["models"]] == ["2", "1"]
    workers = models["workers"]
    assert [(w["generation"], w["versions"]["mql_to_sql"]) for w in workers] == [(2, "2")] * 2
    assert sorted(w["answering"] for w in workers) == [False, True]
    assert _metric(second, 'leadscore_model_reloads_total{result="followed"}').endswith(" 1.0")


def test_a_failed_reload_changes_no_worker_and_no_generation(
    store, worker_settings, make_client, lead_request, monkeypatch, tmp_path
):
    first, second = make_client(worker_settings), make_client(worker_settings)
    store.make_champion("2")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")  # gone

    reload = first.post("/v1/models/reload")
    assert reload.status_code == 503
    assert "reload failed, still serving leadscore-mql-to-sql version 1" in reload.json()["detail"]
    assert _counter(worker_settings) == 1
    for client in (first, second):
        assert _mql_version(client.post("/v1/score", json=lead_request)) == "1"
        models = client.get("/v1/models").json()
        assert models["generation"] == 1
        assert {w["generation"] for w in models["workers"]} == {1}


def test_a_worker_started_later_serves_the_generation_not_an_alias_moved_since(
    store, worker_settings, make_client, lead_request
):
    first = make_client(worker_settings)
    store.make_champion("2")
    assert first.post("/v1/models/reload").status_code == 200
    store.make_champion("3")  # no reload: the server keeps serving version 2

    later = make_client(worker_settings)  # a worker restarted after a crash, say
    assert _mql_version(later.post("/v1/score", json=lead_request)) == "2"
    assert later.get("/v1/models").json()["generation"] == 2

    assert later.post("/v1/models/reload").json()["generation"] == 3
    assert _mql_version(first.post("/v1/score", json=lead_request)) == "3"


def test_requests_arriving_together_wait_for_one_load_of_the_new_generation(
    store, worker_settings, make_client, lead_request
):
    first, second = make_client(worker_settings), make_client(worker_settings)
    store.make_champion("2")
    assert first.post("/v1/models/reload").status_code == 200

    async def together() -> list:
        loop = asyncio.get_running_loop()
        calls = [
            loop.run_in_executor(None, lambda: second.post("/v1/score", json=lead_request))
            for _ in range(8)
        ]
        return await asyncio.gather(*calls)

    answers = asyncio.run(together())
    assert [_mql_version(a) for a in answers] == ["2"] * 8
    assert _metric(second, 'leadscore_model_reloads_total{result="followed"}').endswith(" 1.0")


def test_an_idle_worker_follows_a_reload_by_itself(store, worker_settings, make_client):
    first, second = make_client(worker_settings), make_client(worker_settings)
    store.make_champion("2")
    assert first.post("/v1/models/reload").status_code == 200
    deadline = time.monotonic() + 30
    while True:  # nothing is sent to the second worker; the first lists what it serves
        workers = first.get("/v1/models").json()["workers"]
        if [w["generation"] for w in workers] == [2, 2]:
            break
        assert time.monotonic() < deadline, workers
        time.sleep(0.1)
    assert second.app.state.models.current.by_transition["mql_to_sql"].version == "2"


def test_a_worker_that_cannot_load_a_reload_answers_503_never_the_replaced_models(
    store, worker_settings, make_client, lead_request
):
    first, second = make_client(worker_settings), make_client(worker_settings)
    store.make_champion("2")
    assert first.post("/v1/models/reload").status_code == 200
    (worker_settings.runtime_dir / "generation-2" / "mql_to_sql.joblib").unlink()  # disk trouble

    answer = second.post("/v1/score", json=lead_request)
    assert answer.status_code == 503
    detail = answer.json()["detail"]
    assert "could not follow the reload to generation 2" in detail
    assert "mql_to_sql.joblib" in detail
    assert second.get("/readyz").status_code == 503
    assert _metric(second, 'leadscore_model_reloads_total{result="follow_failed"}') is not None

    # the next reload is tried at once (only a retry of the same generation waits)
    store.make_champion("3")
    assert first.post("/v1/models/reload").json()["generation"] == 3
    assert _mql_version(second.post("/v1/score", json=lead_request)) == "3"
