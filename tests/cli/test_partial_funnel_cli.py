"""`leadscore score` and `leadscore forecast` where only MQL -> SQL has a champion (a history
without won deals): they work with it, and count and name what they cannot do for SQL -> won,
on stderr and in what they write; with no champion at all, one error line as before."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd

from tests.cli.console import LEADSCORE, assert_error_after_progress


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(
        [LEADSCORE, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )


def test_score_fills_mql_to_sql_and_counts_the_leads_sql_to_won_leaves_out(no_won_deals):
    folder, history = no_won_deals
    done = run(folder, "score", "--data", "raw", "--out", "scores")
    assert done.returncode == 0, done.stderr[-2000:]
    scores = pd.read_parquet(folder / "scores")
    assert len(scores) == len(history.leads)
    assert scores["probability_mql_to_sql"].between(0, 1).all()
    assert scores["probability_sql_to_won"].isna().all()  # kept, empty: never dropped silently
    # the leads at SQL when the data ends: the ones that need SQL -> won
    end = max(history.stage_changes["changed_at"].max(), history.touches["occurred_at"].max())
    seen = history.stage_changes[history.stage_changes["changed_at"] < end]
    latest = seen.sort_values("changed_at").groupby("lead_id")["stage"].last().astype(str)
    at_sql = int((latest == "sql").sum())
    assert at_sql > 0
    [line] = [line for line in done.stderr.splitlines() if line.startswith("[sql_to_won]")]
    assert line.startswith("[sql_to_won] not scored: leadscore-sql-to-won has no champion")
    assert f"left empty for all {len(history.leads):,} leads ({at_sql:,} of them at SQL" in line


def test_forecast_gives_the_sqls_and_names_the_won_deals_it_cannot(no_won_deals):
    folder, _ = no_won_deals
    done = run(folder, "forecast", "--data", "raw", "--as-of", "2025-06-01", "--out", "fc")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "mql_to_sql: expected SQLs from" in done.stdout
    assert "sql_to_won: expected" not in done.stdout
    assert "sql_to_won: not forecast (no champion leadscore-sql-to-won" in done.stdout
    [said] = [line for line in done.stderr.splitlines() if line.startswith("[sql_to_won]")]
    assert "not forecast" in said and "open leads at 2025-06-01 are not counted" in said
    table = pd.read_csv(folder / "fc" / "forecast.csv")
    assert set(table["transition"]) == {"mql_to_sql"}


def test_score_without_any_champion_is_one_error_line(tmp_path: Path, no_won_deals):
    folder, _ = no_won_deals
    done = run(tmp_path, "score", "--data", str(folder / "raw"), "--out", "scores")
    # (MLflow says on stderr that it made the empty store first)
    assert_error_after_progress(
        done, "leadscore-mql-to-sql: no champion to score with; train first"
    )
