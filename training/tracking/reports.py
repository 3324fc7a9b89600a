"""Runs that log a report rather than a model: a benchmark's figures, table and files, so its
numbers can be compared from run to run in the MLflow UI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow

from training.tracking.runs import git_commit


def log_benchmark_run(
    *,
    run_name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    figures: dict[str, plt.Figure],
    files: list[Path],
    job: str = "benchmark",
) -> str:
    """Log a benchmark's params, metrics, figures (closed once logged) and files (under
    ``report/``) as one run of the current experiment (``tracking.configure``), tagged
    ``job`` (benchmark, forecast); returns the run id."""
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags({"job": job, "git_commit": git_commit()})
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        for name, figure in figures.items():
            mlflow.log_figure(figure, f"plots/{name}.png")
            plt.close(figure)
        for path in files:
            mlflow.log_artifact(str(path), artifact_path="report")
        return run.info.run_id
