"""`--engine dask` at the command line: the same training sets as the local engine, written
as partitioned Parquet; bad input (a scheduler that does not answer, a missing Parquet
folder or table, options that do not go together) is one `error:` line and exit code 2."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.cli.console import LEADSCORE, assert_one_line_error


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LEADSCORE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={
            **os.environ,
            "LEADSCORE_MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'm.db'}",
            "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s",  # Dask's own setting: wait less
            **env,
        },
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # free once closed: nothing listens there


@pytest.mark.parametrize("command", ["features", "train", "score"])
def test_an_unreachable_scheduler_exits_2_naming_it(tmp_path, simulation_dir, command):
    address = f"tcp://127.0.0.1:{_closed_port()}"
    result = run(
        tmp_path, command, "--data", str(simulation_dir), "--engine", "dask", "--scheduler", address
    )
    assert_one_line_error(result, f"--scheduler {address}: cannot reach the Dask scheduler")


def test_the_scheduler_can_come_from_the_settings(tmp_path, simulation_dir):
    address = f"tcp://127.0.0.1:{_closed_port()}"
    result = run(
        tmp_path,
        "features",
        "--data",
        str(simulation_dir),
        LEADSCORE_ENGINE="dask",
        LEADSCORE_SCHEDULER=address,
    )
    assert_one_line_error(result, address, "cannot reach")


@pytest.mark.parametrize("command", ["features", "train", "score"])
def test_a_missing_parquet_folder_exits_2_naming_it(tmp_path, command):
    missing = tmp_path / "no-such-data"
    result = run(tmp_path, command, "--data", str(missing), "--engine", "dask")
    assert_one_line_error(result, str(missing), "no such folder")


def test_a_missing_table_exits_2_naming_where_it_was_looked_for(tmp_path, simulation_dir):
    data = tmp_path / "data"
    data.mkdir()
    for table in ("leads", "stage_changes"):
        (data / f"{table}.parquet").symlink_to(simulation_dir / f"{table}.parquet")
    (data / "touches").mkdir()
    result = run(tmp_path, "features", "--data", str(data), "--engine", "dask")
    assert_one_line_error(result, "touches", "no .parquet files", str(data / "touches"))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["features", "--engine", "spark"], "--engine 'spark': use local or dask"),
        (["features", "--scheduler", "tcp://127.0.0.1:8786"], "--scheduler needs --engine dask"),
        (
            ["train", "--table", "x.csv", "--label", "y", "--engine", "dask"],
            "--table trains on one",
        ),
    ],
)
def test_options_that_do_not_go_together_exit_2(tmp_path, args, fragment):
    assert_one_line_error(run(tmp_path, *args), fragment)


@pytest.mark.slow
def test_features_on_dask_write_the_local_engines_rows_as_partitioned_parquet(
    tmp_path, simulation_dir
):
    local = run(tmp_path, "features", "--data", str(simulation_dir), "--out", str(tmp_path / "l"))
    dask = run(
        tmp_path,
        "features",
        "--data",
        str(simulation_dir),
        "--out",
        str(tmp_path / "d"),
        "--engine",
        "dask",
    )
    assert local.returncode == 0, local.stderr
    assert dask.returncode == 0, dask.stderr
    assert "partitions of whole leads (shuffled by lead)" in dask.stderr
    assert "[LightGBM]" not in dask.stdout
    for name in ("mql_to_sql", "sql_to_won"):
        parts = sorted((tmp_path / "d" / name).glob("part.*.parquet"))
        assert len(parts) >= 2
        back = pd.read_parquet(parts).sort_values(["decision_time", "lead_id"], kind="stable")
        whole = pd.read_parquet(tmp_path / "l" / f"{name}.parquet")
        pd.testing.assert_frame_equal(back.reset_index(drop=True), whole)
        mine = json.loads((tmp_path / "d" / f"{name}.manifest.json").read_text())
        theirs = json.loads((tmp_path / "l" / f"{name}.manifest.json").read_text())
        assert mine == theirs
