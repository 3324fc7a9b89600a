"""`leadscore features` on broken lead history: one line on stderr naming the problem, exit 2,
never a traceback. Runs the installed console script, as a user would."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from features.io import write_lead_history
from tests.cli.console import LEADSCORE, assert_one_line_error
from tests.factories import make_history


def run_features(data: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LEADSCORE, "features", "--data", str(data), "--out", str(cwd / "features")],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_missing_required_column_exits_2_naming_table_and_column(tmp_path: Path):
    data = tmp_path / "raw"
    write_lead_history(make_history(), data, "csv")
    touches = (data / "touches.csv").read_text().replace("occurred_at", "timestamp")
    (data / "touches.csv").write_text(touches)
    result = run_features(data, tmp_path)
    assert_one_line_error(result, "error: touches.occurred_at: required column is missing")


@pytest.mark.parametrize("broken", ["missing_table", "duplicate_ids"])
def test_unusable_history_exits_2_with_one_line(tmp_path: Path, broken: str):
    data = tmp_path / "raw"
    history = make_history()
    write_lead_history(history, data, "parquet")
    if broken == "missing_table":
        (data / "stage_changes.parquet").unlink()
        expected = "stage_changes.csv"
    else:
        history.leads.assign(lead_id=[1, 1, 2]).to_parquet(data / "leads.parquet")
        expected = "leads.lead_id: 2 rows share a lead_id"
    assert_one_line_error(run_features(data, tmp_path), expected)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["generate", "--leads", "0"], "--leads"),
        (["generate", "--leads"], "--leads"),
        (["nosuch"], "nosuch"),
    ],
)
def test_command_line_usage_errors_are_one_line_too(tmp_path: Path, args: list[str], fragment):
    """Option values out of range, a missing value, an unknown command: one line, exit 2,
    no usage box."""
    result = subprocess.run(
        [LEADSCORE, *args], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert_one_line_error(result, fragment)
    assert result.stdout == ""


def test_help_still_exits_0_with_the_commands(tmp_path: Path):
    result = subprocess.run(
        [LEADSCORE, "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 0
    assert "train" in result.stdout and result.stderr == ""
