"""``leadscore train --table FILE --label COLUMN`` through the installed console script, in a
fresh working directory with its own MLflow store: what a user with a CRM export sees."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.cli.console import LEADSCORE, assert_one_line_error
from tests.training.flat.test_flat_dates import day_first_table
from tests.training.flat.test_flat_table import make_table, write_csv


def run_leadscore(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the CLI in ``folder`` with every store and default pointing inside it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LEADSCORE_") and k != "MLFLOW_TRACKING_URI"
    }
    env |= {
        "LEADSCORE_MLFLOW_TRACKING_URI": f"sqlite:///{folder}/mlflow.db",
        "LEADSCORE_MLFLOW_ARTIFACTS_DIR": str(folder / "mlartifacts"),
        "LEADSCORE_DATA_DIR": str(folder / "data"),
        "LEADSCORE_EXPERIMENT": "cli-test",
    }
    return subprocess.run(
        [LEADSCORE, "train", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_good_table_trains_and_prints_a_summary(tmp_path: Path) -> None:
    path = write_csv(make_table(), tmp_path)
    result = run_leadscore(tmp_path, "--table", str(path), "--label", "converted")
    assert result.returncode == 0, result.stderr
    assert "ROC-AUC" in result.stdout
    assert "leadscore-flat-converted" in result.stdout
    assert (tmp_path / "mlflow.db").exists()


@pytest.mark.slow
def test_json_prints_one_object_with_roc_auc(tmp_path: Path) -> None:
    path = write_csv(make_table(), tmp_path)
    result = run_leadscore(
        tmp_path,
        *("--table", str(path), "--label", "converted", "--id", "lead_id"),
        *("--time", "created_at", "--json"),
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert isinstance(payload, dict)
    assert 0.5 < payload["roc_auc"] <= 1


def test_leaky_column_exits_2_naming_it(tmp_path: Path) -> None:
    table = make_table(n=1_000)
    table["stage"] = np.where(table["converted"] == 1, "Won", "Lost")
    path = write_csv(table, tmp_path)
    result = run_leadscore(tmp_path, "--table", str(path), "--label", "converted")
    assert_one_line_error(result, "stage", "--allow-leaky")
    assert not (tmp_path / "mlflow.db").exists()  # refused before the store was touched


@pytest.mark.slow
def test_allowed_leaky_column_is_used(tmp_path: Path) -> None:
    table = make_table(n=1_000)
    table["stage"] = np.where(table["converted"] == 1, "Won", "Lost")
    path = write_csv(table, tmp_path)
    args = ("--table", str(path), "--label", "converted", "--allow-leaky", "stage", "--json")
    result = run_leadscore(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["leaky_columns_allowed"] == ["stage"]


def test_missing_label_column_exits_2_naming_it(tmp_path: Path) -> None:
    path = write_csv(make_table(n=200), tmp_path)
    result = run_leadscore(tmp_path, "--table", str(path), "--label", "is_won")
    assert_one_line_error(result, "is_won")


def test_unreadable_file_exits_2_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "export.parquet"
    path.write_bytes(b"\x00\x01 definitely not parquet")
    result = run_leadscore(tmp_path, "--table", str(path), "--label", "converted")
    assert_one_line_error(result, "export.parquet")


# -- dates: one format per column (issue #22, item 2) ------------------------------------------
def test_time_column_mixing_date_conventions_exits_2_naming_it_and_the_option(
    tmp_path: Path,
) -> None:
    table, _ = day_first_table(n=600)
    table.loc[10, "created_at"] = "01/25/2023"
    path = write_csv(table, tmp_path)
    result = run_leadscore(
        tmp_path, "--table", str(path), "--label", "converted", "--time", "created_at"
    )
    assert_one_line_error(result, "created_at", "mix day-first", "--dayfirst")


def test_entirely_ambiguous_time_column_exits_2_unless_dayfirst_is_given(tmp_path: Path) -> None:
    """Refused without the option; with --dayfirst the dates are read and the next check
    speaks (a leaky column here, so nothing is trained)."""
    table = make_table(n=600).drop(columns="last_contact_at")
    days = np.arange(len(table)) % 12 + 1
    table["created_at"] = [f"{d:02d}/{m:02d}/2023" for d, m in zip(days, days[::-1], strict=True)]
    table["stage"] = np.where(table["converted"] == 1, "Won", "Lost")
    path = write_csv(table, tmp_path)
    args = ("--table", str(path), "--label", "converted", "--time", "created_at")
    assert_one_line_error(run_leadscore(tmp_path, *args), "created_at", "ambiguous", "--dayfirst")
    told = run_leadscore(tmp_path, *args, "--dayfirst")
    assert_one_line_error(told, "leaky column(s) refused: stage")


@pytest.mark.slow
def test_day_first_export_trains_and_the_summary_names_each_date_format(tmp_path: Path) -> None:
    table, _ = day_first_table(n=1_500)
    path = write_csv(table, tmp_path)
    args = ("--table", str(path), "--label", "converted", "--time", "created_at")
    result = run_leadscore(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert "dates in created_at: day-first (DD/MM/YYYY), values like '15/01/2023'" in (
        result.stdout
    )
    assert "dates in last_contact_at: day-first" in result.stdout
