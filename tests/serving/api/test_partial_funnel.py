"""A team whose history has MQLs and SQLs but no won or lost deals (a marketing-side export):
`leadscore train` registers MQL -> SQL and skips SQL -> won, and the API started on that store
serves MQL -> SQL, says what it does not serve, and answers 503 naming SQL -> won for the leads
that need it (single leads, JSON and Arrow batches); a reload picks SQL -> won up once it has
a champion."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import httpx
import pandas as pd
import pyarrow as pa
import pytest

from core.settings import Settings
from serving.decode.arrow_reader import ARROW_STREAM
from tests.serving.conftest import register, request_of
from tests.serving.servers import start_server, wait_ready
from training import tracking


@pytest.fixture(scope="module")
def store(no_won_deals) -> Settings:
    folder, _ = no_won_deals
    return Settings(
        mlflow_tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        mlflow_artifacts_dir=folder / "mlartifacts",
        experiment="leadscore",
    )


def _at(history, stage: str) -> dict:
    """The /v1/score body of a lead an hour after it entered ``stage``, before any later one."""
    changes = history.stage_changes.sort_values("changed_at")
    entered = changes[changes["stage"].astype(str) == stage]
    for row in entered.itertuples():
        own = changes[changes["lead_id"] == row.lead_id]
        later = own[own["changed_at"] > row.changed_at]["changed_at"]
        as_of = row.changed_at + pd.Timedelta(hours=1)
        if later.empty or later.min() > as_of:
            return request_of(history, row.lead_id, as_of)
    raise AssertionError(f"no lead at {stage}")


@pytest.fixture(scope="module")
def leads(no_won_deals) -> dict[str, dict]:
    _, history = no_won_deals
    return {stage: _at(history, stage) for stage in ("mql", "sql")}


def test_training_registered_mql_to_sql_and_named_the_skipped_sql_to_won(
    no_won_deals, store, no_tracking_env
):
    folder, _ = no_won_deals
    said = (folder / "train.stderr").read_text()
    skipped = [line for line in said.splitlines() if "skipped" in line]
    assert len(skipped) == 1
    assert skipped[0].startswith("[sql_to_won] skipped, not trained: sql_to_won: too few rows")
    assert "train and validation 0/" in skipped[0] and "(needs 2/2)" in skipped[0]
    assert "sql_to_won: not trained" in (folder / "train.stdout").read_text()
    tracking.configure(store.mlflow_tracking_uri, store.mlflow_artifacts_dir, store.experiment)
    assert tracking.load_bundle("mql_to_sql") is not None
    assert tracking.registered_versions(tracking.registered_name("sql_to_won")) == []


def test_models_lists_what_is_served_and_what_is_missing(store, make_client):
    client = make_client(store)
    listed = client.get("/v1/models").json()
    assert [m["transition"] for m in listed["models"]] == ["mql_to_sql"]
    assert listed["models"][0]["inference"] == "compiled"
    [missing] = listed["missing"]
    assert missing["transition"] == "sql_to_won"
    assert missing["name"] == "leadscore-sql-to-won"
    assert missing["reason"] == "no champion registered: train first"
    assert "train first" in missing["detail"]
    assert [w["missing"] for w in listed["workers"]] == [["sql_to_won"]]
    assert client.get("/readyz").status_code == 200
    assert 'transition="sql_to_won"' not in client.get("/metrics").text


def test_an_mql_is_scored_and_an_sql_gets_503_naming_sql_to_won(store, make_client, leads):
    client = make_client(store)
    mql = client.post("/v1/score", json=leads["mql"])
    assert mql.status_code == 200, mql.text
    scored = mql.json()
    assert scored["stage"] == "mql"
    assert scored["mql_to_sql"]["status"] == "open"
    assert 0 < scored["mql_to_sql"]["probability"] < 1
    assert scored["mql_to_sql"]["reasons_up"] or scored["mql_to_sql"]["reasons_down"]
    assert scored["priority"] in ("hot", "warm", "cold")
    assert scored["sql_to_won"]["status"] == "unavailable"
    assert scored["sql_to_won"]["probability"] is None
    assert scored["sql_to_won"]["model"] == {
        "name": "leadscore-sql-to-won",
        "version": None,
        "alias": None,
    }

    sql = client.post("/v1/score", json=leads["sql"])
    assert sql.status_code == 503
    body = sql.json()
    assert body["error"] == "transition_not_served"
    assert body["detail"].startswith("sql_to_won: no champion registered: train first")
    assert "; the lead is at SQL and needs it" in body["detail"]
    assert "(this service serves mql_to_sql)" in body["detail"]


def test_single_leads_scored_together_are_refused_alone(store, make_client, leads):
    """Concurrent single leads share scoring passes: an SQL's 503 never fails an MQL's pass."""
    client = make_client(store)

    async def together():
        loop = asyncio.get_running_loop()
        posts = [
            loop.run_in_executor(None, lambda b=body: client.post("/v1/score", json=b))
            for body in [leads["mql"], leads["sql"]] * 4
        ]
        return await asyncio.gather(*posts)

    answers = asyncio.run(together())
    assert [a.status_code for a in answers] == [200, 503] * 4


def test_a_batch_with_leads_needing_sql_to_won_gets_503_with_their_count(store, make_client, leads):
    client = make_client(store)
    batch = {"leads": [leads["mql"], leads["sql"], leads["sql"]]}
    answer = client.post("/v1/score/batch", json=batch)
    assert answer.status_code == 503
    assert answer.json()["error"] == "transition_not_served"
    assert "sql_to_won" in answer.json()["detail"]
    assert "2 of the 3 leads to score are at SQL and need it" in answer.json()["detail"]

    invalid = {"leads": [leads["sql"], {"lead": {}}]}  # checked lead by lead: the same 503
    answer = client.post("/v1/score/batch", json=invalid)
    assert answer.status_code == 503
    assert "1 of the 1 leads to score is at SQL and needs it" in answer.json()["detail"]

    only_mqls = client.post("/v1/score/batch", json={"leads": [leads["mql"]] * 3})
    assert only_mqls.status_code == 200
    assert only_mqls.json()["scored"] == 3

    table = pa.Table.from_pylist([leads["mql"], leads["sql"]])  # as a client sends JSON leads
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    answer = client.post(
        "/v1/score/batch",
        content=sink.getvalue().to_pybytes(),
        headers={"Content-Type": ARROW_STREAM, "Accept": ARROW_STREAM},
    )
    assert answer.status_code == 503
    assert "1 of the 2 leads to score is at SQL" in answer.json()["detail"]


def test_a_reload_picks_up_sql_to_won_once_it_has_a_champion(
    store, make_client, leads, bundles, simulation, training_sets, tmp_path
):
    """Two workers of one server (one shared folder) on a copy of the store: a reload while
    SQL -> won still has no champion publishes a generation that carries the subset, which the
    other worker follows; once SQL -> won has a champion, a reload by one worker makes the
    other score the SQL lead."""
    folder = Path(store.mlflow_tracking_uri.removeprefix("sqlite:///")).parent
    copy = tmp_path / "store"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("raw", "scores", "fc"))
    mine = store.model_copy(
        update={
            "mlflow_tracking_uri": f"sqlite:///{copy / 'mlflow.db'}",
            "mlflow_artifacts_dir": copy / "mlartifacts",
            "runtime_dir": tmp_path / "runtime",
        }
    )
    first, second = make_client(mine), make_client(mine)
    assert second.post("/v1/score", json=leads["sql"]).status_code == 503
    again = first.post("/v1/models/reload")  # still a subset: reloads, still lists it
    assert again.status_code == 200
    assert again.json()["generation"] == 2
    assert [m["transition"] for m in again.json()["missing"]] == ["sql_to_won"]
    record = json.loads((tmp_path / "runtime" / "generation.json").read_text())
    assert list(record["models"]) == ["mql_to_sql"]
    assert record["missing"]["sql_to_won"]["reason"] == "no champion registered: train first"
    followed = second.get("/v1/models").json()
    assert followed["generation"] == 2
    assert [m["transition"] for m in followed["missing"]] == ["sql_to_won"]
    assert second.post("/v1/score", json=leads["sql"]).status_code == 503

    tracking.configure(mine.mlflow_tracking_uri, mine.mlflow_artifacts_dir, mine.experiment)
    register(bundles["sql_to_won"], simulation.history, training_sets["sql_to_won"].frame.tail(2))
    reloaded = first.post("/v1/models/reload")
    assert reloaded.status_code == 200
    assert reloaded.json()["missing"] == []
    assert [m["transition"] for m in reloaded.json()["models"]] == ["mql_to_sql", "sql_to_won"]
    sql = second.post("/v1/score", json=leads["sql"])  # the other worker, after following
    assert sql.status_code == 200, sql.text
    assert sql.json()["sql_to_won"]["status"] == "open"
    assert sql.json()["sql_to_won"]["model"]["version"] == "1"
    assert second.get("/v1/models").json()["workers"][0]["missing"] == []


def test_two_workers_serve_the_subset_over_http(store, leads, tmp_path):
    """`leadscore serve --workers 2` on the store: the generation both workers follow carries
    the subset, and each worker refuses the SQL lead the same way."""
    server, base = start_server(store, tmp_path, workers=2)
    try:
        wait_ready(server, base)
        # a new connection per request: the supervisor deals them to the workers in turn
        answers = [httpx.post(f"{base}/v1/score", json=leads["sql"], timeout=30) for _ in range(4)]
        assert {a.status_code for a in answers} == {503}
        assert {a.json()["error"] for a in answers} == {"transition_not_served"}
        mql = httpx.post(f"{base}/v1/score", json=leads["mql"], timeout=30)
        assert mql.status_code == 200
        reload = httpx.post(f"{base}/v1/models/reload", timeout=60)
        assert reload.status_code == 200
        assert reload.json()["generation"] == 2
        deadline = time.monotonic() + 20
        while True:  # the other worker follows the published generation within a second
            workers = httpx.get(f"{base}/v1/models", timeout=30).json()["workers"]
            if len(workers) == 2 and all(w["generation"] == 2 for w in workers):
                break
            assert time.monotonic() < deadline, workers
            time.sleep(0.2)
        assert [w["missing"] for w in workers] == [["sql_to_won"]] * 2
        assert [list(w["versions"]) for w in workers] == [["mql_to_sql"]] * 2
        answers = [httpx.post(f"{base}/v1/score", json=leads["sql"], timeout=30) for _ in range(4)]
        assert {a.status_code for a in answers} == {503}
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "not serving sql_to_won" in server.stderr.read().decode()
