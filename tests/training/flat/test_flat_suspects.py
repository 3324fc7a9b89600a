"""Suspects in a flat export (issue #15): columns that nearly give the label away without
reaching the leak bar are named, in the summary and the run, and ``--drop-suspects`` leaves
them out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from features.leaks import PURE_LEVEL, pure_level
from tests.cli.test_train_table_cli import run_leadscore
from tests.training.flat.test_flat_table import make_table, write_csv
from training.flat.checks import check_table
from training.flat.table import find_leaky_columns, gain_suspect, infer_columns, usable_rows


def with_lead_quality(table: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """A ``lead_quality`` field sales fills in: "Hot" on a fifth of the converters (all of
    them converted), otherwise noise: on its own far from a perfect predictor."""
    rng = np.random.default_rng(seed)
    converted = table["converted"].to_numpy() == 1
    hot = converted & (rng.random(len(table)) < 0.4)
    noise = rng.choice(["Warm", "Cold", "Unknown"], len(table))
    return table.assign(lead_quality=np.where(hot, "Hot", noise))


def test_a_big_near_pure_value_is_a_suspect_but_not_a_leak() -> None:
    table = with_lead_quality(make_table(n=2_000))
    plan = infer_columns(table, "converted")
    rows, _, _ = usable_rows(table, plan)
    assert "lead_quality" not in {x.column for x in find_leaky_columns(rows, "converted", plan)}
    y = table["converted"].to_numpy()
    suspect = pure_level("lead_quality", table["lead_quality"], y)
    assert suspect is not None and suspect.kind == PURE_LEVEL
    assert "'Hot'" in suspect.evidence and "100% of them converted" in suspect.evidence


def test_a_big_value_that_only_repeats_a_low_base_rate_is_not_a_suspect() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(5_000) < 0.03).astype(int)
    values = pd.Series(np.where(rng.random(5_000) < 0.6, "none", "some"))
    assert pure_level("channel", values, y) is None
    assert pure_level("small", pd.Series(["x"] * 10 + ["y"] * 4_990), y) is None


def test_a_column_carrying_most_of_the_gain_is_a_suspect() -> None:
    leaning = gain_suspect(pd.Series({"status": 80.0, "pageviews": 15.0, "size": 5.0}))
    assert leaning is not None and leaning.column == "status"
    assert "80% of the model's gain" in leaning.evidence
    assert gain_suspect(pd.Series({"a": 40.0, "b": 35.0, "c": 25.0})) is None


def test_check_table_names_suspects_and_drops_them_only_when_asked(tmp_path: Path) -> None:
    path = write_csv(with_lead_quality(make_table(n=2_000)), tmp_path)
    kept = check_table(path, label="converted")
    assert [x.column for x in kept.suspects] == ["lead_quality"]
    assert "lead_quality" in kept.plan.kinds
    dropped = check_table(path, label="converted", drop_suspects=True)
    assert "lead_quality" not in dropped.plan.kinds
    assert dropped.plan.dropped["lead_quality"].startswith("suspect, dropped (--drop-suspects)")


@pytest.mark.slow
def test_suspects_are_named_in_the_summary_and_the_run_and_dropped_when_asked(
    tmp_path: Path,
) -> None:
    path = write_csv(with_lead_quality(make_table(n=2_000)), tmp_path)
    result = run_leadscore(
        tmp_path, "--table", str(path), "--label", "converted", "--drop-suspects"
    )
    assert result.returncode == 0, result.stderr
    assert "suspect column lead_quality: value 'Hot' covers" in result.stdout
    assert "(dropped)" in result.stdout
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    (run,) = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], max_results=1
    )
    assert run.data.params["leaks.suspects"].startswith("lead_quality (value 'Hot'")
    assert run.data.params["leaks.suspects_dropped"] == "True"
    assert "lead_quality (suspect, dropped" in run.data.params["columns.dropped"]
