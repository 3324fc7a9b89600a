"""`leadscore monitor` run as a cron job would: champions trained on one simulated history,
leads of another scored and recorded as the API's batch path does, the outcomes read from its
tables. A clean period exits 0 with the report, the figures on the champion's run and the
summary in the store; a dropped form field exits 1 naming it; bad input exits 2 with one line.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from prometheus_client import CollectorRegistry, Counter

from features.io import write_lead_history
from features.simulate import simulate
from features.simulation.drift import FormDropsField
from features.window import visible_history
from serving.runtime.recorder import ScoreRecorder
from serving.scoring.loading import load_models
from serving.scoring.scorer import score_visible
from tests.cli.console import LEADSCORE, assert_one_line_error
from training import tracking
from training.run import train_transition

pytestmark = pytest.mark.slow
START = datetime(2025, 1, 1)
DAYS = 200
SINCE, UNTIL = "2025-02-03", "2025-07-14"  # the last week: 2025-07-07 to 07-14


def _score_and_record(history, models, store: Path) -> None:
    """Every MQL and SQL entry scored a minute after it, 1,000 leads a pass, and recorded."""
    entries = history.stage_changes[history.stage_changes["stage"].isin(["mql", "sql"])]
    first = entries.groupby(["lead_id", "stage"], observed=True)["changed_at"].min()
    points = pd.DataFrame(
        {
            "lead_id": first.index.get_level_values("lead_id"),
            "as_of": (first + pd.Timedelta(minutes=1)).to_numpy(),
        }
    ).sort_values("as_of", ignore_index=True)
    counter = Counter("records", "records", ["outcome"], registry=CollectorRegistry())
    recorder = ScoreRecorder(store, counter, flush_s=0.1)
    recorder.start()
    for begin in range(0, len(points), 1000):
        batch = points.iloc[begin : begin + 1000].reset_index(drop=True)
        as_of = list(batch["as_of"].dt.tz_localize("UTC").dt.to_pydatetime())
        scored = score_visible(
            models,
            visible_history(batch, history),
            batch["lead_id"].tolist(),
            as_of,
            reasons=[False] * len(batch),
            top=0,
        )
        recorder.record("score_batch", scored)
    recorder.close()
    assert counter.labels("written")._value.get() == len(points)


@pytest.fixture(scope="module")
def world(tmp_path_factory, training_sets, simulation, hand_set_rules) -> Path:
    """A folder holding the MLflow store with both champions, and per story (clean, drifted)
    the production history's tables and the score store of its recorded leads."""
    root = tmp_path_factory.mktemp("monitor-world")
    before = mlflow.get_tracking_uri()
    tracking.configure(f"sqlite:///{root / 'mlflow.db'}", root / "mlartifacts", "leadscore")
    try:
        for training_set in training_sets.values():
            train_transition(training_set, simulation.history, hand_set_rules, promote=True)
        models = load_models(
            tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
            artifacts_dir=root / "mlartifacts",
            experiment="leadscore",
            alias="champion",
            model_dir=None,
        )
    finally:
        mlflow.set_tracking_uri(before)
    stories = {"clean": [], "drifted": [FormDropsField(170, "job_level")]}  # from 2025-06-20
    for name, drifts in stories.items():
        history = simulate(20_000, seed=4, start=START, days=DAYS, drifts=drifts).history
        write_lead_history(history, root / name / "raw")
        _score_and_record(history, models, root / name / "scored_leads.db")
    return root


def run(world: Path, story: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(
        LEADSCORE_SCORE_STORE=str(world / story / "scored_leads.db"),
        LEADSCORE_DATA_DIR=str(world / story),
    )
    return subprocess.run(
        [LEADSCORE, "monitor", *args],
        capture_output=True,
        text=True,
        cwd=world,
        env=env,
        timeout=600,
    )


def test_a_clean_period_exits_0_with_report_mlflow_figures_and_stored_summary(world):
    result = run(world, "clean", "--since", SINCE, "--until", UNTIL)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["mql_to_sql", "sql_to_won"]
    assert all(line.endswith("0 alarm(s)") for line in lines)
    report = (world / "clean" / "monitor" / "report.html").read_text()
    assert "no alarm" in report and report.count("data:image/png;base64,") == 6
    assert "<script" not in report and 'src="http' not in report
    mlflow.set_tracking_uri(f"sqlite:///{world / 'mlflow.db'}")
    client = MlflowClient()
    for transition in ("mql_to_sql", "sql_to_won"):
        run_id = tracking.champion_run(transition)[0]
        logged = {a.path for a in client.list_artifacts(run_id, "monitoring/2025-07-14")}
        folder = "monitoring/2025-07-14"
        assert {
            f"{folder}/{transition}_stability.png",
            f"{folder}/{transition}_reliability.png",
            f"{folder}/{transition}_shares.png",
            f"{folder}/report.html",
            f"{folder}/summary.json",
        } <= logged
    with sqlite3.connect(world / "clean" / "scored_leads.db") as connection:
        (alarms, summary) = connection.execute(
            "SELECT alarms, summary FROM monitor_runs ORDER BY id DESC"
        ).fetchone()
    assert alarms == 0
    found = json.loads(summary)["transitions"]["mql_to_sql"]
    assert found["latest_cohort"]["from"] <= "2025-04-14"  # matured: its week + 90 days
    assert found["latest_week"]["rows"] >= 100


def test_a_dropped_form_field_exits_1_naming_it(world):
    result = run(world, "drifted", "--since", SINCE, "--until", UNTIL, "--json")
    assert result.returncode == 1, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    alarmed = {(a["transition"], a["check"], a["subject"]) for a in summary["alarms"]}
    assert ("mql_to_sql", "psi", "job_level") in alarmed
    assert summary["transitions"]["mql_to_sql"]["latest_week"]["psi"]["job_level"] > 0.25
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--since", "2025-09-01", "--until", "2025-10-01"], ["no scored leads", "since"]),
        (["--since", "2025-06-01", "--until", UNTIL], ["no matured cohort yet", "matures on"]),
        (["--since", SINCE, "--until", UNTIL, "--reference", "nope"], ["unknown run 'nope'"]),
        (["--since", SINCE, "--transition", "lead_to_won"], ["--transition", "lead_to_won"]),
        (["--since", UNTIL, "--until", SINCE], ["is not after --since"]),
    ],
)
def test_bad_input_exits_2_with_one_line(world, args, fragments):
    assert_one_line_error(run(world, "clean", *args), *fragments)
