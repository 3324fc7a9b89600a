"""`leadscore forecast` as a head of sales would run it: champions with their timing models in
the registry, the history in a folder; the table on stdout (with what happened, the history
going on past --as-of), the plot and CSV written, an MLflow run logged; bad input exits 2 with
one line."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from tests.cli.console import LEADSCORE, assert_one_line_error
from tests.serving.conftest import register, train_bundle
from training import tracking

pytestmark = pytest.mark.slow
EXPERIMENT = "leadscore"


@contextmanager
def store_at(folder: Path) -> Iterator[None]:
    """MLflow pointed at ``folder``'s store inside the block only: tracking and registry URIs,
    and the environment variables MLflow sets for them (a later ``tracking.configure`` would
    follow those), as they were before."""
    variables = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    environment = {name: os.environ.pop(name, None) for name in variables}
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    try:
        tracking.configure(f"sqlite:///{folder / 'mlflow.db'}", folder / "mlartifacts", EXPERIMENT)
        yield
    finally:
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])
        for name, value in environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def store(tmp_path_factory, training_sets, hand_set_rules, simulation) -> Path:
    """A working directory whose default SQLite store holds both champions with timing."""
    folder = tmp_path_factory.mktemp("forecast")
    with store_at(folder):
        for training_set in training_sets.values():
            bundle = train_bundle(training_set, hand_set_rules, history=simulation.history)
            register(bundle, simulation.history, training_set.frame.tail(2))
    return folder


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(
        [LEADSCORE, "forecast", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def test_forecast_prints_expected_counts_writes_the_plot_and_logs_a_run(store, simulation_dir):
    result = run(store, "--as-of", "2025-06-01", "--data", str(simulation_dir), "--out", "fc")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "mql_to_sql: expected SQLs from" in out and "sql_to_won: expected won deals" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("period"))
    assert header.split() == ["period", "expected", "low", "high", "actual", "error"]
    rows = [line for line in out.splitlines() if line.strip().startswith("next 30 days")]
    assert len(rows) == 2
    expected, low, high = (float(v) for v in rows[0].split()[3:6])
    assert 0 <= low <= expected <= high
    assert (store / "fc" / "forecast.png").stat().st_size > 10_000
    assert (store / "fc" / "forecast.csv").read_text().count("next 30 days") == 2
    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    runs = client.search_runs(
        [client.get_experiment_by_name(EXPERIMENT).experiment_id], "tags.job = 'forecast'"
    )
    assert len(runs) == 1
    logged = runs[0].data
    assert logged.params["as_of"] == "2025-06-01 00:00:00"
    assert logged.metrics["mql_to_sql.next_0_30d.expected"] == pytest.approx(expected, abs=0.05)
    assert "mql_to_sql.next_0_30d.actual" in logged.metrics


@pytest.mark.parametrize(
    ("as_of", "fragments"),
    [
        ("someday", ["--as-of", "datetime"]),
        ("2031-01-01", ["--as-of 2031-01-01", "outside the data"]),
        ("2019-01-01", ["--as-of 2019-01-01", "outside the data"]),
    ],
)
def test_a_date_that_cannot_be_read_or_lies_outside_the_data_is_one_line(
    store, simulation_dir, as_of, fragments
):
    result = run(store, "--as-of", as_of, "--data", str(simulation_dir), "--out", "fc-bad")
    assert_one_line_error(result, *fragments)


def test_no_champion_is_one_line(tmp_path, simulation_dir):
    with store_at(tmp_path):  # a store with no model (made here: MLflow logs its making)
        pass
    result = run(tmp_path, "--as-of", "2025-06-01", "--data", str(simulation_dir))
    assert_one_line_error(result, "no champion leadscore-mql-to-sql", "leadscore train")
