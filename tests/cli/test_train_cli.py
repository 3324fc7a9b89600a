"""`leadscore train` on lead history, run as a user would: --json output, bad rules files."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from features.io import write_simulation
from features.simulate import simulate
from tests.cli.console import LEADSCORE, assert_error_after_progress, assert_one_line_error
from tests.factories import without_stages


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(
        [LEADSCORE, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )


def test_invalid_rules_file_exits_2_naming_the_rule(tmp_path: Path, simulation_dir: Path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "threshold: 35\nrules:\n  - name: careers_page\n    kind: touch\n"
        "    page_type: carrers\n    points: -10\n"
    )
    result = run(["train", "--data", str(simulation_dir), "--rules", str(rules)], tmp_path)
    assert_one_line_error(result, "careers_page", "carrers")
    assert not (tmp_path / "mlflow.db").exists()  # nothing logged before the input was checked


def test_a_transition_too_small_even_for_the_floor_is_skipped_and_named(tmp_path: Path):
    """100 simulated leads (as `leadscore generate --leads 100` makes them): MQL -> SQL has 13
    conversions, enough for the floor (the calibrated hand-set score); SQL -> won has one in
    the rows the floor calibrates on, too few even for that. MQL -> SQL is trained and
    registered; SQL -> won is skipped with one line naming its counts and what it needs, and
    --json names it (the table too: tests/training/test_summary.py)."""
    data = tmp_path / "raw"
    write_simulation(simulate(100, seed=7, start=datetime(2024, 1, 1), days=730), data)
    result = run(["train", "--data", str(data), "--json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "error:" not in result.stderr
    skipped = [line for line in result.stderr.splitlines() if "skipped" in line]
    assert len(skipped) == 1, result.stderr
    assert skipped[0].startswith("[sql_to_won] skipped, not trained: sql_to_won: too few rows")
    assert "train and validation 1/10 (needs 2/2)" in skipped[0]
    said = json.loads(result.stdout)
    assert set(said) == {"mql_to_sql", "sql_to_won"}
    assert "roc_auc" in said["mql_to_sql"]["model"]
    assert said["sql_to_won"]["counts"] == {"train and validation": [1, 10]}
    assert said["sql_to_won"]["needs"] == {"train and validation": 2}
    assert "too few rows" in said["sql_to_won"]["skipped"]
    assert tracking_versions(tmp_path) == {"leadscore-mql-to-sql": ["1"]}


def tracking_versions(cwd: Path) -> dict[str, list[str]]:
    """The registered models and their versions in the SQLite store a command wrote in
    ``cwd`` (read in a fresh process: this one's MLflow stays untouched)."""
    script = (
        "import json, mlflow; mlflow.set_tracking_uri('sqlite:///mlflow.db'); "
        "c = mlflow.MlflowClient(); print(json.dumps({m.name: sorted(str(v.version) for v in "
        "c.search_model_versions(f\"name='{m.name}'\")) for m in c.search_registered_models()}))"
    )
    python = str(Path(LEADSCORE).parent / "python")
    done = subprocess.run([python, "-c", script], capture_output=True, text=True, cwd=cwd)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_no_transition_with_enough_rows_exits_2_before_anything_is_logged(tmp_path: Path):
    """No lead ever reached SQL (nor won or lost): neither transition can give even the floor,
    so there is nothing to train: one error line naming MQL -> SQL's counts, nothing logged."""
    data = tmp_path / "raw"
    sim = simulate(100, seed=7, start=datetime(2024, 1, 1), days=730)
    history = without_stages(sim.history, ["sql", "won", "lost"])
    write_simulation(replace(sim, history=history), data)
    result = run(["train", "--data", str(data)], tmp_path)
    assert_error_after_progress(result, "mql_to_sql: too few rows", "(needs 2/2)")
    assert "skipped" not in result.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_too_few_conversions_to_learn_from_serve_the_calibrated_rules(tmp_path: Path):
    """300 simulated leads: too few conversions for a model in either transition. Training
    says so in one line each, logs and registers the calibrated hand-set score, and the table
    shows it beside the hand-set points."""
    data = tmp_path / "raw"
    write_simulation(simulate(300, seed=7, start=datetime(2024, 1, 1), days=730), data)
    result = run(["train", "--data", str(data)], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    said = [line for line in result.stderr.splitlines() if "too few conversions" in line]
    assert [line.split("]")[0] for line in said] == ["[mql_to_sql", "[sql_to_won"]
    assert "4 converted rows, fewer than the 20 needed to learn from" in said[1]
    assert "serving your hand-set score calibrated on 21 rows, no model" in said[1]
    assert result.stdout.count("serves: your rules alone (calibrated on") == 2
    said = " ".join(line.strip() for line in result.stdout.splitlines())
    assert "leadscore-sql-to-won version 1 is the champion (it serves): it is the first" in said


@pytest.mark.slow
def test_json_prints_one_object_with_both_transitions_metrics(tmp_path: Path, simulation_dir: Path):
    result = run(["train", "--data", str(simulation_dir), "--json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads(result.stdout)
    assert set(metrics) == {"mql_to_sql", "sql_to_won"}
    for transition in metrics.values():
        assert 0.5 < transition["model"]["roc_auc"] <= 1
        assert "roc_auc" in transition["baseline"] and "gap" in transition["oracle"]
    assert "training on" in result.stderr  # progress goes to stderr, as plain lines in a pipe
    assert "[mql_to_sql] boosting plain LightGBM: 0/2,000 trees" in result.stderr.splitlines()
    assert (tmp_path / "mlflow.db").exists() and (tmp_path / "mlartifacts").is_dir()
