"""The API records what it scores for the monitor: single leads and batches, off the request
path; a store that cannot be written never fails a score (it is counted); the latest monitor
run shows as gauges on /metrics."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving.api.app import create_app
from serving.runtime.metrics import ServiceMetrics
from serving.scoring.scorer import HOT_LIFT
from training import profile
from training.monitoring.store import ScoreWriter, read_scores
from training.profile import monitored_features


def _rows(path) -> list[dict]:
    """The recorded rows in write order, each with its features as a dict."""
    frame = read_scores(path, since=pd.Timestamp("2000-01-01"), until=pd.Timestamp("2100-01-01"))
    rows = frame.sort_values("id").to_dict("records")
    for row in rows:
        row["features"] = {
            k.removeprefix("feature."): (None if pd.isna(v) else v)
            for k, v in row.items()
            if k.startswith("feature.")
        }
    return rows


@pytest.fixture
def store_settings(registry, tmp_path, no_tracking_env):
    return registry.model_copy(update={"score_store": tmp_path / "scores" / "scored.db"})


def test_single_and_batch_scores_are_recorded_as_answered(
    store_settings, lead_request, real_leads, bundles
):
    with TestClient(create_app(store_settings)) as client:
        single = client.post("/v1/score", json=lead_request).json()
        batch = client.post("/v1/score/batch", json={"leads": real_leads[:12]}).json()
        metrics = client.app.state.metrics
    # leaving the client shut the app down: what was pending is written
    rows = _rows(store_settings.score_store)
    answers = [single] + [item["result"] for item in batch["results"]]
    assert len(rows) == len(answers) == 13
    assert [r["endpoint"] for r in rows] == ["score"] + ["score_batch"] * 12
    watched = list(dict.fromkeys(n for b in bundles.values() for n in monitored_features(b.model)))
    for row, answer in zip(rows, answers, strict=True):
        assert row["lead_id"] == str(answer["lead_id"])
        assert row["stage"] == answer["stage"]
        assert row["as_of"] == pd.Timestamp(answer["as_of"]).tz_convert(None)
        for transition in ("mql_to_sql", "sql_to_won"):
            assert row[f"{transition}_status"] == answer[transition]["status"]
            assert row[f"{transition}_version"] == "1"
            if answer[transition]["probability"] is None:
                assert pd.isna(row[f"{transition}_probability"])
            else:
                assert row[f"{transition}_probability"] == pytest.approx(
                    answer[transition]["probability"], abs=1e-6
                )
        assert row["hand_set_points"] == pytest.approx(answer["hand_set"]["points"], abs=1e-6)
        assert bool(row["passes_threshold"]) is answer["hand_set"]["passes_threshold"]
        assert list(row["features"]) == watched
    sent = {str(lead["lead"]["lead_id"]): lead["lead"] for lead in [lead_request, *real_leads]}
    for row in rows:  # the recorded attribute is the one the lead was sent with
        assert row["features"]["source"] == sent[row["lead_id"]].get("source")
    assert 'leadscore_score_records_total{outcome="written"} 13.0' in (
        metrics.exposition().decode()
    )


def test_a_store_that_cannot_be_written_fails_no_score_and_is_counted(
    registry, tmp_path, lead_request, no_tracking_env
):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    settings = registry.model_copy(update={"score_store": blocked / "scored.db"})
    with TestClient(create_app(settings)) as client:
        for _ in range(3):
            assert client.post("/v1/score", json=lead_request).status_code == 200
        metrics = client.app.state.metrics
    assert 'leadscore_score_records_total{outcome="failed"} 3.0' in metrics.exposition().decode()


def test_recording_can_be_switched_off(registry, tmp_path, lead_request, no_tracking_env):
    path = tmp_path / "off.db"
    settings = registry.model_copy(update={"score_store": path, "record_scores": False})
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/score", json=lead_request).status_code == 200
    assert not path.exists()


SUMMARY = {
    "transitions": {
        "mql_to_sql": {
            "latest_week": {"psi": {"job_level": 1.8, "probability": 0.04}},
            "shares": {"hand_set": {"share": 0.41, "capacity_share": 0.4}},
            "latest_cohort": {"predicted": 0.36, "observed": 0.30, "auc": 0.81},
        }
    },
    "alarms": [{"transition": "mql_to_sql", "check": "psi"}],
}


def test_the_latest_monitor_run_shows_as_gauges(tmp_path):
    path = tmp_path / "s.db"
    metrics = ServiceMetrics()
    metrics.watch_monitor(path)
    assert "leadscore_monitor" not in metrics.exposition().decode()  # no run yet: no gauges
    writer = ScoreWriter(path)
    writer.save_result(
        ran_at="2025-06-02T06:00:00+00:00", since="2025-03-01", until="2025-06-02", summary=SUMMARY
    )
    writer.close()
    text = metrics.exposition().decode()
    for line in (
        "leadscore_monitor_alarms 1.0",
        'leadscore_monitor_alarm{check="psi",transition="mql_to_sql"} 1.0',
        'leadscore_monitor_alarm{check="calibration",transition="mql_to_sql"} 0.0',
        'leadscore_monitor_psi{column="job_level",transition="mql_to_sql"} 1.8',
        'leadscore_monitor_share_above_threshold{threshold="hand_set",transition="mql_to_sql"} '
        "0.41",
        'leadscore_monitor_capacity_share{threshold="hand_set",transition="mql_to_sql"} 0.4',
        'leadscore_monitor_auc{transition="mql_to_sql"} 0.81',
    ):
        assert line in text, line

    def value(prefix: str) -> float:
        return float(next(x for x in text.splitlines() if x.startswith(prefix)).split()[-1])

    assert value("leadscore_monitor_calibration_gap{") == pytest.approx(-0.06)
    assert value("leadscore_monitor_last_run_timestamp_seconds ") == 1_748_844_000


def test_the_monitor_watches_the_hot_tier_the_api_gives():
    assert profile.HOT_LIFT == HOT_LIFT
