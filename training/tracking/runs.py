"""Every MLflow call of training: configure the store, log a run, register, promote by alias.

The embedded default is a SQLite tracking database and an artifact folder in the working
directory, so a fresh clone needs no server; ``MLFLOW_TRACKING_URI`` wins when set. Each
transition has one registered model; a new version is the ``challenger`` and becomes the
``champion`` only when it beats the current champion on the same test rows (or there is none),
so a team can always see, and roll back to, what served before.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import joblib
import matplotlib.pyplot as plt
import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from core.errors import ModelNotFoundError
from training.bundle import ScoringBundle
from training.tracking.aliases import CHALLENGER, CHAMPION, move_champion, registered_name
from training.tracking.pyfunc import LeadHistoryModel, signature

_PACKAGE_DIRS = ("core", "features", "training")
# What the bundled code imports; pinned to the versions that trained the model. Listing them
# spares MLflow from inferring them by loading the model in a subprocess (seconds per run).
_RUNTIME_PACKAGES = (
    "mlflow",
    "lightgbm",
    "scikit-learn",
    "pandas",
    "numpy",
    "pyarrow",
    "joblib",
    "pyyaml",
    "pydantic",
    "pydantic-settings",
    "matplotlib",
)


def pip_requirements() -> list[str]:
    """Pinned requirements of the logged model, from the training environment."""
    return [f"{name}=={version(name)}" for name in _RUNTIME_PACKAGES]


_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def configure(tracking_uri: str | None, artifacts_dir: Path, experiment: str) -> str:
    """Point MLflow at the store and make sure the experiment exists; returns its id.

    ``MLFLOW_TRACKING_URI``, when the user sets it, wins over ``tracking_uri`` (MLflow's own
    convention). MLflow also writes the URI it is given into that variable, for subprocesses;
    that write is taken back, or the first store configured in a process (a notebook, the
    tests, a long-lived API) would silently overrule every later one as if the user had set it.
    """
    user_set = {name: os.environ.get(name) for name in _URI_VARIABLES}
    uri = user_set["MLFLOW_TRACKING_URI"] or tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for name, value in user_set.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        mlflow.set_experiment(experiment)
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:"):  # keep artifacts beside the database, not in ./mlruns
        location = Path(artifacts_dir).resolve().as_uri()
    experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment)
    return experiment_id


def git_commit() -> str:
    """The commit being trained, so every run can be traced to its code."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=5
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _code_paths() -> list[str]:
    """The project's packages, shipped with the model so it scores with the code it was
    trained with."""
    return [str(Path(__file__).resolve().parents[2] / d) for d in _PACKAGE_DIRS]


def _log_contents(
    tags: dict[str, str],
    params: dict[str, Any],
    metrics: dict[str, float],
    figures: dict[str, plt.Figure],
    documents: dict[str, dict],
) -> None:
    """What every training run logs besides its model: lineage tags, params, metrics, plots
    (closed once logged) and JSON documents."""
    mlflow.set_tags({**tags, "git_commit": git_commit()})
    mlflow.log_params(params)
    mlflow.log_metrics(metrics)
    for name, figure in figures.items():
        mlflow.log_figure(figure, f"plots/{name}.png")
        plt.close(figure)
    for name, document in documents.items():
        mlflow.log_dict(document, f"{name}.json")


def log_training_run(
    bundle: ScoringBundle,
    *,
    run_name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    figures: dict[str, plt.Figure],
    documents: dict[str, dict],
    input_example: Any,
    tags: dict[str, str] | None = None,
) -> tuple[str, str]:
    """Log one transition's run and register its model; returns (run_id, model version).
    ``tags``: more run tags (what serves and why, the floor's reason)."""
    with mlflow.start_run(run_name=run_name) as run:
        _log_contents(
            {
                "transition": bundle.transition,
                "data_fingerprint": bundle.data_fingerprint,
                **(tags or {}),
            },
            params,
            metrics,
            figures,
            documents,
        )
        with tempfile.TemporaryDirectory() as tmp:
            bundle_path = Path(tmp) / "bundle.joblib"
            joblib.dump(bundle, bundle_path)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=LeadHistoryModel(),
                artifacts={"bundle": str(bundle_path)},
                code_paths=_code_paths(),
                signature=signature(
                    bundle.timing.horizons_days if bundle.timing is not None else ()
                ),
                input_example=input_example,
                pip_requirements=pip_requirements(),
                registered_model_name=registered_name(bundle.transition),
            )
        version = str(info.registered_model_version)
        MlflowClient().set_registered_model_alias(
            registered_name(bundle.transition), CHALLENGER, version
        )
        return run.info.run_id, version


def load_bundle(transition: str, alias: str = CHAMPION) -> ScoringBundle | None:
    """The bundle behind ``models:/<name>@<alias>``, or None when there is no such alias."""
    found = load_bundle_version(transition, alias)
    return None if found is None else found[0]


def load_bundle_version(transition: str, alias: str = CHAMPION) -> tuple[ScoringBundle, str] | None:
    """The bundle behind ``models:/<name>@<alias>`` and the version it is, or None when there
    is no such alias. The version is the one downloaded even if the alias moves meanwhile."""
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(registered_name(transition), alias)
    except MlflowException:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{registered_name(transition)}/{version.version}",
            dst_path=tmp,
        )
        bundle_file = next(Path(path).rglob("bundle.joblib"), None)
        if bundle_file is None:
            raise ModelNotFoundError(f"{registered_name(transition)}@{alias} has no bundle")
        return joblib.load(bundle_file), str(version.version)


def has_alias(model_name: str, alias: str) -> bool:
    """Whether the registered model ``model_name`` has a version behind ``alias``."""
    try:
        MlflowClient().get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return False
    return True


def registered_versions(model_name: str) -> list[dict[str, Any]]:
    """Every version of the registered model ``model_name`` with its aliases, its run's test
    ROC-AUC and the gate's reason: best AUC first (then newest). Empty when there is none."""
    client = MlflowClient()
    try:
        found = client.search_model_versions(f"name='{model_name}'")
    except MlflowException:
        return []
    versions = []
    for found_version in found:
        metrics: dict[str, float] = {}
        tags: dict[str, str] = {}
        if found_version.run_id:
            try:
                run = client.get_run(found_version.run_id)
                metrics, tags = run.data.metrics, run.data.tags
            except MlflowException:
                pass
        auc = metrics.get("promotion.challenger_auc", metrics.get("model.roc_auc"))
        versions.append(
            {
                "version": str(found_version.version),
                "aliases": list(found_version.aliases or []),
                "roc_auc": auc,
                "reason": tags.get("promotion_reason"),
            }
        )
    return sorted(
        versions,
        key=lambda v: (v["roc_auc"] is not None, v["roc_auc"] or 0.0, int(v["version"])),
        reverse=True,
    )


def promote(transition: str, version: str, run_id: str, decision: dict[str, Any]) -> None:
    """Record the promotion decision on the run and move ``champion`` if it says so."""
    _record_decision(registered_name(transition), version, run_id, decision)


def _record_decision(model_name: str, version: str, run_id: str, decision: dict[str, Any]) -> None:
    """The gate's decision on the run (tags ``promotion`` and ``promotion_reason``, the AUCs
    compared as ``promotion.*`` metrics); ``champion`` moves to ``version`` if it says so,
    and ``version`` is tagged with the one it replaced (``aliases.move_champion``)."""
    client = MlflowClient()
    if decision["promote"]:
        move_champion(client, model_name, version)
    client.set_tag(run_id, "promotion", "champion" if decision["promote"] else "challenger")
    client.set_tag(run_id, "promotion_reason", decision["reason"])
    for key in ("challenger_auc", "champion_auc", "baseline_auc"):
        if decision.get(key) is not None and decision[key] == decision[key]:  # not NaN
            client.log_metric(run_id, f"promotion.{key}", decision[key])


def log_flat_run(
    predict: Any,
    *,
    model_name: str,
    run_name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    figures: dict[str, plt.Figure],
    documents: dict[str, dict],
    tags: dict[str, str],
    input_example: Any,
    decision: dict[str, Any],
) -> tuple[str, str]:
    """Log a flat-table run and register its model; returns (run_id, version).

    ``predict`` (``FlatScorer.predict``: raw table rows in, a ``probability`` column out) is
    logged as a function pyfunc, pickled with its fitted model and column plan. The signature
    names the input columns but types them "any": the scorer reads numbers, number text,
    booleans and blanks alike, where MLflow's strict types would refuse an integer column whose
    example held floats. The new version is the ``challenger``, and the ``champion`` too when
    the gate's ``decision`` says so; the decision is recorded on the run as ``promote`` does.
    """
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    client = MlflowClient()
    with mlflow.start_run(run_name=run_name) as run:
        _log_contents({**tags, "registered_model": model_name}, params, metrics, figures, documents)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=predict,
            code_paths=_code_paths(),
            signature=ModelSignature(
                inputs=Schema([ColSpec(AnyType(), str(c)) for c in input_example.columns]),
                outputs=Schema([ColSpec("double", "probability")]),
            ),
            input_example=input_example,
            pip_requirements=pip_requirements(),
            registered_model_name=model_name,
        )
        version = str(info.registered_model_version)
        client.set_registered_model_alias(model_name, CHALLENGER, version)
        _record_decision(model_name, version, run.info.run_id, decision)
        return run.info.run_id, version


def log_weights_run(
    *,
    run_name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    files: list[Path],
) -> str:
    """Log one learned-vs-hand-set weights comparison (report, learned rules file, JSON) as a
    run of the current experiment, under ``weights/``; returns the run id. No model is
    registered: adopting learned points means replacing the rules file, a team's decision."""
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags({**tags, "job": "weights", "git_commit": git_commit()})
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        for path in files:
            mlflow.log_artifact(str(path), artifact_path="weights")
        return run.info.run_id
