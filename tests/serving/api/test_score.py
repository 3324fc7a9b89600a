"""/v1/score and /v1/score/batch: the response, parity with the offline pipeline, stage
semantics, and one lead of a batch failing alone."""

from __future__ import annotations

import copy
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from serving.api import routes
from serving.runtime.metrics import ServiceMetrics, observe_many
from tests.serving.conftest import request_of

TRANSITIONS = ("mql_to_sql", "sql_to_won")


def test_score_returns_probabilities_rules_priority_and_reasons(client, lead_request):
    response = client.post("/v1/score", json=lead_request)
    assert response.status_code == 200
    body = response.json()
    assert body["lead_id"] == lead_request["lead"]["lead_id"]
    assert body["stage"] == "lead"  # the MQL entry at as_of itself is not seen yet
    assert body["priority"] in ("hot", "warm", "cold")
    mql = body["mql_to_sql"]
    assert mql["status"] == "hypothetical" and 0 < mql["probability"] < 1
    assert mql["model"] == {"name": "leadscore-mql-to-sql", "version": "1", "alias": "champion"}
    assert body["sql_to_won"]["status"] == "not_reached"
    assert body["sql_to_won"]["probability"] is None
    hand_set = body["hand_set"]
    assert hand_set["points"] == pytest.approx(sum(hand_set["points_per_rule"].values()))
    assert hand_set["passes_threshold"] == (hand_set["points"] >= hand_set["threshold"])
    reasons = mql["reasons_up"] + mql["reasons_down"]
    assert 0 < len(reasons) <= 6
    assert all(r["contribution"] > 0 and r["text"].endswith("(+)") for r in mql["reasons_up"])
    assert all(r["contribution"] < 0 and r["text"].endswith("(-)") for r in mql["reasons_down"])


def test_reasons_can_be_switched_off(client, lead_request):
    body = client.post("/v1/score", params={"reasons": "false"}, json=lead_request).json()
    assert body["mql_to_sql"].get("reasons_up") is None


@pytest.fixture(scope="module")
def parity_rows(training_sets) -> pd.DataFrame:
    """Decision points of both transitions: the rows the models were trained on."""
    rows = [
        s.frame[["lead_id", "decision_time"]].sample(15, random_state=1).assign(transition=t)
        for t, s in training_sets.items()
    ]
    return pd.concat(rows, ignore_index=True)


def test_api_gives_the_offline_pipeline_probabilities(client, parity_rows, simulation, bundles):
    """The API (one lead per request and as a batch) and build_features + bundle over the whole
    batch history agree on every probability, horizon probability and hand-set total."""
    history = simulation.history
    requests = [request_of(history, r.lead_id, r.decision_time) for r in parity_rows.itertuples()]
    points = pd.DataFrame(
        {"lead_id": parity_rows["lead_id"], "as_of": parity_rows["decision_time"]}
    )
    batch = client.post("/v1/score/batch", json={"leads": requests}).json()
    assert batch["invalid"] == 0
    for transition in TRANSITIONS:
        offline = bundles[transition].score(points, history)
        singles = [client.post("/v1/score", json=r).json() for r in requests]
        for results in (singles, [item["result"] for item in batch["results"]]):
            for i, result in enumerate(results):
                entry = result[transition]
                if entry["probability"] is not None:
                    assert entry["probability"] == pytest.approx(
                        offline["probability"][i], rel=1e-12, abs=1e-15
                    )
                    within = entry["within_days"]
                    assert list(within) == ["30", "60", "90"]
                    for days, p in within.items():
                        assert abs(p - offline[f"within_{days}d"][i]) <= 1e-9
                else:
                    assert entry["within_days"] is None
                assert result["hand_set"]["points"] == pytest.approx(
                    offline["hand_set_points"][i], abs=1e-9
                )
    # every mql_to_sql row is scored, and sql_to_won rows (at SQL entry, MQL seen) too
    statuses = {
        (r.transition, s["mql_to_sql"]["status"], s["sql_to_won"]["status"])
        for r, s in zip(parity_rows.itertuples(), singles, strict=True)
    }
    assert {t for t, *_ in statuses} == set(TRANSITIONS)
    assert all(m == "hypothetical" for t, m, _ in statuses if t == "mql_to_sql")


def _with_stages(request: dict, stages: list[str]) -> dict:
    body = copy.deepcopy(request)
    created = pd.Timestamp(body["lead"]["created_at"])
    body["stage_changes"] = [
        {"stage": s, "changed_at": (created + pd.Timedelta(hours=i + 1)).isoformat() + "Z"}
        for i, s in enumerate(stages)
    ]
    body["as_of"] = (created + pd.Timedelta(days=30)).isoformat() + "Z"
    body["touches"] = [t for t in body["touches"] if t["occurred_at"] < body["as_of"]]
    return body


@pytest.mark.parametrize(
    ("stages", "stage", "mql_to_sql", "sql_to_won", "priority_closed"),
    [
        ([], "lead", "hypothetical", "not_reached", False),
        (["lead"], "lead", "hypothetical", "not_reached", False),
        (["lead", "mql"], "mql", "open", "hypothetical", False),
        (["lead", "mql", "sal"], "sal", "open", "hypothetical", False),
        (["lead", "mql", "sal", "sql"], "sql", "converted", "open", False),
        (["lead", "mql", "sql", "won"], "won", "converted", "converted", True),
        (["lead", "mql", "sql", "lost"], "lost", "converted", "lost", True),
        (["lead", "mql", "lost"], "lost", "lost", "lost", True),
    ],
)
def test_each_stage_gets_its_transitions(
    client, lead_request, stages, stage, mql_to_sql, sql_to_won, priority_closed
):
    body = client.post("/v1/score", json=_with_stages(lead_request, stages)).json()
    assert body["stage"] == stage
    assert body["mql_to_sql"]["status"] == mql_to_sql
    assert body["sql_to_won"]["status"] == sql_to_won
    for transition in TRANSITIONS:
        entry = body[transition]
        scored = entry["status"] in ("open", "hypothetical")
        assert (entry["probability"] is not None) == scored
        assert entry["note"]
    assert (body["priority"] == "closed") == priority_closed


def test_stage_change_at_as_of_is_not_seen_yet(client, lead_request):
    body = _with_stages(lead_request, ["lead", "mql", "sql"])
    body["as_of"] = body["stage_changes"][2]["changed_at"]
    assert client.post("/v1/score", json=body).json()["stage"] == "mql"


def test_same_lead_twice_in_a_batch_keeps_each_history(client, lead_request):
    empty = copy.deepcopy(lead_request)
    empty["touches"] = []
    batch = client.post("/v1/score/batch", json={"leads": [lead_request, empty]}).json()
    alone = [client.post("/v1/score", json=r).json() for r in (lead_request, empty)]
    for item, single in zip(batch["results"], alone, strict=True):
        assert item["result"]["lead_id"] == lead_request["lead"]["lead_id"]
        assert item["result"]["mql_to_sql"]["probability"] == single["mql_to_sql"]["probability"]
        assert item["result"]["hand_set"] == single["hand_set"]
    full, bare = (item["result"]["hand_set"]["points"] for item in batch["results"])
    assert full != bare


def test_batch_reports_an_invalid_lead_and_scores_the_others(client, lead_request):
    bad = copy.deepcopy(lead_request)
    bad["touches"][0]["action"] = "fax_sent"
    response = client.post("/v1/score/batch", json={"leads": [lead_request, bad, lead_request]})
    assert response.status_code == 200
    body = response.json()
    assert (body["scored"], body["invalid"]) == (2, 1)
    first, broken, third = body["results"]
    assert first["result"]["mql_to_sql"]["probability"] is not None and first["error"] is None
    assert broken["result"] is None
    assert broken["error"]["lead_id"] == lead_request["lead"]["lead_id"]
    assert broken["error"]["errors"][0]["loc"] == ["body", "leads", 1, "touches", 0, "action"]
    assert third["result"] == first["result"]


def test_batch_explains_only_when_asked(client, lead_request):
    plain = client.post("/v1/score/batch", json={"leads": [lead_request]}).json()
    assert plain["results"][0]["result"]["mql_to_sql"].get("reasons_up") is None
    explained = client.post(
        "/v1/score/batch", params={"reasons": "true"}, json={"leads": [lead_request]}
    ).json()
    assert explained["results"][0]["result"]["mql_to_sql"]["reasons_up"] is not None


def test_unseen_country_is_scored_as_unknown(client, lead_request):
    unseen, unknown = copy.deepcopy(lead_request), copy.deepcopy(lead_request)
    unseen["lead"]["country"] = "Atlantis"
    unknown["lead"]["country"] = None
    a, b = (client.post("/v1/score", json=r) for r in (unseen, unknown))
    assert a.status_code == b.status_code == 200
    assert a.json()["mql_to_sql"]["probability"] == b.json()["mql_to_sql"]["probability"]


def test_missing_optional_attributes_are_scored(client, lead_request):
    lead = lead_request["lead"]
    minimal = {
        "lead": {k: lead[k] for k in ("lead_id", "created_at", "lead_type")},
        "as_of": lead_request["as_of"],
    }
    body = client.post("/v1/score", json=minimal).json()
    assert 0 < body["mql_to_sql"]["probability"] < 1


def test_as_of_defaults_to_now(client, lead_request):
    body = {k: v for k, v in lead_request.items() if k != "as_of"}
    scored = client.post("/v1/score", json=body).json()
    assert abs(pd.Timestamp(scored["as_of"]) - pd.Timestamp.now(tz="UTC")) < pd.Timedelta("1min")


def test_models_lists_versions_metrics_and_load_time(client):
    body = client.get("/v1/models").json()
    assert {m["transition"] for m in body["models"]} == set(TRANSITIONS)
    for model in body["models"]:
        assert (model["version"], model["alias"], model["source"]) == ("1", "champion", "registry")
        assert model["test_metrics"]["roc_auc"] == 0.7
        assert 0 < model["base_rate"] < 1
        assert pd.Timestamp(model["loaded_at"]) <= pd.Timestamp.now(tz="UTC")
    assert body["rules"] and body["rules_threshold"] == 35


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "alive"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_metrics_count_requests_latencies_and_scores(client, lead_request):
    client.post("/v1/score", json=lead_request)
    client.post("/v1/score", json={})
    text = client.get("/metrics").text
    assert 'leadscore_requests_total{route="/v1/score",status="200"}' in text
    assert 'leadscore_requests_total{route="/v1/score",status="422"}' in text
    assert 'leadscore_request_duration_seconds_bucket{le="0.01",route="/v1/score"}' in text
    assert 'leadscore_probability_count{status="hypothetical",transition="mql_to_sql"}' in text
    assert "leadscore_hand_set_points_count" in text
    assert 'leadscore_model_info{alias="champion",transition="mql_to_sql",version="1"} 1.0' in text
    assert "leadscore_scoring_pass_leads_count" in text


def _total(text: str, prefix: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


def test_metrics_count_every_lead_of_a_batch(client, lead_request):
    bad = copy.deepcopy(lead_request)
    bad["touches"][0]["channel"] = "fax"
    leads = [lead_request] * 5 + [bad] + [_with_stages(lead_request, ["lead", "mql", "sql"])] * 3
    body = client.post("/v1/score/batch", json={"leads": leads}).json()
    text = client.get("/metrics").text
    scored = 'leadscore_leads_total{endpoint="score_batch",outcome="scored"}'
    assert _total(text, scored) == body["scored"] == 8
    assert _total(text, 'leadscore_leads_total{endpoint="score_batch",outcome="invalid"}') == 1
    assert _total(text, "leadscore_priority_total") == 8
    assert _total(text, "leadscore_hand_set_points_count") == 8
    probabilities = sum(
        item["result"][t]["probability"] is not None
        for item in body["results"]
        if item["result"]
        for t in TRANSITIONS
    )
    assert _total(text, "leadscore_probability_count") == probabilities
    assert _total(text, 'leadscore_probability_count{status="open",transition="sql_to_won"}') == 3


def test_concurrent_single_requests_each_get_their_own_result(client, lead_request):
    """Single requests may share a scoring pass; each still gets its own lead back."""
    from concurrent.futures import ThreadPoolExecutor

    bodies = []
    for i in range(12):
        body = copy.deepcopy(lead_request)
        body["lead"]["lead_id"] = f"L-{i}"
        body["touches"] = body["touches"][: i + 1]
        bodies.append(body)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda b: client.post("/v1/score", json=b).json(), bodies))
    expected = [client.post("/v1/score", json=b).json() for b in bodies]
    assert [r["lead_id"] for r in results] == [f"L-{i}" for i in range(12)]
    for got, want in zip(results, expected, strict=True):
        assert got["hand_set"] == want["hand_set"]
        assert got["mql_to_sql"]["probability"] == want["mql_to_sql"]["probability"]
    assert len({r["hand_set"]["points"] for r in results}) > 1
    assert np.isfinite([r["mql_to_sql"]["probability"] for r in results]).all()


def test_bulk_observations_expose_as_one_at_a_time():
    # observe_many reaches into the histogram's buckets: any change there shows here
    values = [0.0, 0.05, 0.1, 0.1000001, 0.5, 0.99, 1.0, 7.0, -3.0, 1e9]
    one_by_one, in_bulk = ServiceMetrics(), ServiceMetrics()
    for value in values:
        one_by_one.hand_set_points.observe(value)
    observe_many(in_bulk.hand_set_points, values)
    observe_many(in_bulk.hand_set_points, [])

    def samples(metrics: ServiceMetrics) -> dict:
        (family,) = [f for f in metrics.registry.collect() if f.name.endswith("hand_set_points")]
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}

    expected, got = samples(one_by_one), samples(in_bulk)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key


def test_batches_are_scored_one_at_a_time_per_worker(client, lead_request, monkeypatch):
    # several batches at once only contend for the GIL and the caches: they queue instead
    running, most = 0, 0
    lock = threading.Lock()
    read_and_score = routes._read_and_score

    def counted(*args, **kwargs):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)  # long enough for the other requests to arrive
        try:
            return read_and_score(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(routes, "_read_and_score", counted)
    body = {"leads": [lead_request] * 3}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: client.post("/v1/score/batch", json=body), range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    assert most == 1


def test_a_batch_checked_lead_by_lead_leaves_the_event_loop_free(client, lead_request, monkeypatch):
    # the schema's lead-by-lead checks take ~100 ms per 1,000 leads: run on the event loop,
    # they held up every other request of the worker; a slow check shows it
    read_batch = routes.read_batch
    checking = threading.Event()

    def slow(*args, **kwargs):
        checking.set()
        time.sleep(1.0)
        return read_batch(*args, **kwargs)

    monkeypatch.setattr(routes, "read_batch", slow)
    bad = copy.deepcopy(lead_request)
    bad["touches"][0]["channel"] = "fax"  # one invalid lead: the lead-by-lead path
    with ThreadPoolExecutor(1) as pool:
        batch = pool.submit(client.post, "/v1/score/batch", json={"leads": [bad, lead_request]})
        assert checking.wait(10)
        started = time.monotonic()
        assert client.get("/healthz").status_code == 200
        assert time.monotonic() - started < 0.5
        answer = batch.result()
    assert answer.status_code == 200 and answer.json()["invalid"] == 1
