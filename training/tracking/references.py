"""MLflow for the monitor: which run's training data is the reference, that reference, and
logging what the monitor found back onto that run.

Every training run logs ``monitoring_reference.json`` (``training.profile``); the champion's
run is the default reference, so the figures of each monitor run land next to the model they
judge.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from core.errors import InputError
from training.tracking.aliases import CHAMPION, registered_name

REFERENCE_FILE = "monitoring_reference.json"


def champion_run(transition: str, alias: str = CHAMPION) -> tuple[str, str] | None:
    """(run id, version) of ``models:/<name>@<alias>``, or None when there is no such alias."""
    try:
        version = MlflowClient().get_model_version_by_alias(registered_name(transition), alias)
    except MlflowException:
        return None
    return version.run_id, str(version.version)


def run_reference(run_id: str) -> tuple[str, dict]:
    """(transition, reference profile) of training run ``run_id``.

    ``InputError`` naming the run when the store has no such run, or when the run logged no
    reference (not a training run, or trained before monitoring existed: retrain).
    """
    client = MlflowClient()
    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        raise InputError(
            f"--reference: unknown run {run_id!r} in the tracking store {mlflow.get_tracking_uri()}"
        ) from error
    transition = run.data.tags.get("transition")
    try:
        reference = mlflow.artifacts.load_dict(f"runs:/{run_id}/{REFERENCE_FILE}")
    except (MlflowException, OSError) as error:
        raise InputError(
            f"--reference: run {run_id} has no {REFERENCE_FILE} (not a training run, or trained "
            "before monitoring existed: train again)"
        ) from error
    return transition or reference["transition"], reference


def log_monitoring(
    run_id: str, *, folder: str, figures: dict[str, plt.Figure], files: list[Path]
) -> None:
    """Log figures (closed once logged) and files under ``folder`` of run ``run_id``."""
    client = MlflowClient()
    for name, figure in figures.items():
        client.log_figure(run_id, figure, f"{folder}/{name}.png")
        plt.close(figure)
    for path in files:
        client.log_artifact(run_id, str(path), artifact_path=folder)
