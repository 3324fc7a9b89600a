"""One settings object for every job. Values come from ``LEADSCORE_*`` environment variables
(or a ``.env`` file) and have defaults that work from a fresh clone. Only the edges (CLI, app)
read settings; everything below them takes plain keyword arguments."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Attributes:
    data_dir: where generated lead history, truth files and training sets live.
    seed: seed of every random step (simulation, splits, models) unless overridden.
    horizon_days: a transition counts as converted when it happens within this many days of
        the decision time; rows whose horizon had not elapsed when the data ends are censored.
    horizons_days: the horizons of "P(converting within N days)" the hazard model answers and
        the API returns (``LEADSCORE_HORIZONS_DAYS=30,60,90``); ascending, distinct.
    mlflow_tracking_uri: tracking and registry store; ``MLFLOW_TRACKING_URI`` wins when set.
    mlflow_artifacts_dir: where run artifacts go with the embedded SQLite store.
    experiment: MLflow experiment of training runs.
    rules_path: the hand-set rules file (default: the shipped models/hand_set_rules.yaml).
    min_positives: below this many converted rows in a transition's training set no model is
        learned: ``leadscore train`` calibrates the hand-set score and serves that.
    rules_prior: whether the learned model starts from the hand-set rules (``auto``: chosen on
        the validation rows, preferring the rules; ``on``; ``off``: plain LightGBM).
    rules_prior_monotone: keep the sign each rule gives its touch counts in the trees that
        correct the rules (LightGBM monotone constraints).
    api_key: when set, every /v1 request of the API must send it in the X-API-Key header.
    model_dir: serve bundles from this folder (``<transition>.joblib`` or an MLflow model folder
        per transition) instead of the registry.
    model_alias: registry alias the API serves (``models:/<name>@<alias>``).
    max_batch_leads: most leads one /v1/score/batch request may hold.
    max_touches_per_lead: most touches one lead of a request may hold.
    max_request_bytes: largest request body the API reads (413 beyond, before reading it: a
        1,000-lead batch of 24 touches per lead is about 3.5 MB).
    batch_reasons: whether /v1/score/batch explains each score unless the request says.
    reasons_per_direction: reasons pushing up (and down) returned per transition.
    compiled_trees: whether the API serves the models' trees compiled to machine code, their
        SHAP values computed in C (``serving.scoring.compiled_trees``,
        ``serving.scoring.tree_shap``: each checked against LightGBM first, LightGBM otherwise)
        and JSON batches read in C (``serving.decode.json_reader``: pyarrow's arrays, or pyarrow
        reads).
    compiled_trees_dir: where compiled trees are kept (default: ``~/.cache/leadscore/trees``,
        or under ``XDG_CACHE_HOME``).
    runtime_dir: the folder the workers of one server share (the reload generation, what each
        worker serves); ``leadscore serve`` makes a fresh one and hands it to its workers in
        ``LEADSCORE_RUNTIME_DIR``, not set by hand. None: the app reloads itself alone.
    record_scores: whether the API records what it scores (lead id, time, model versions,
        probabilities, hand-set points, a few features' values) for ``leadscore monitor``.
    score_store: the SQLite file of recorded scores and monitor results (default:
        ``scored_leads.db`` beside the SQLite MLflow store, else in ``data_dir``).
    outcome_days_mql_to_sql, outcome_days_sql_to_won: days after a lead is scored until its
        outcome counts as known (the monitor judges a cohort only once all its leads are that
        old); default: ``horizon_days``, the window the models were trained to predict.
    sales_capacity_per_week: leads sales can take a week; the monitor alarms when more cross a
        threshold (default: the share the threshold passed in the model's test data).
    engine: where ``features``, ``train`` and ``score`` run: ``local`` (pandas in this
        process) or ``dask`` (partitions of whole leads on a Dask cluster).
    scheduler: the Dask scheduler's address (``tcp://host:8786``) with ``engine=dask``; None
        starts a ``LocalCluster`` sized to this machine.
    """

    model_config = SettingsConfigDict(env_prefix="LEADSCORE_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    seed: int = 7
    horizon_days: int = Field(default=90, ge=1, le=3650)
    horizons_days: Annotated[tuple[int, ...], NoDecode] = (30, 60, 90)
    mlflow_tracking_uri: str = "sqlite:///mlflow.db"
    mlflow_artifacts_dir: Path = Path("mlartifacts")
    experiment: str = "leadscore"
    rules_path: Path | None = None
    min_positives: int = Field(default=20, ge=1)
    rules_prior: Literal["auto", "on", "off"] = "auto"
    rules_prior_monotone: bool = False
    api_key: SecretStr | None = None
    model_dir: Path | None = None
    model_alias: str = Field(default="champion", min_length=1)
    max_batch_leads: int = Field(default=1000, ge=1, le=100_000)
    max_touches_per_lead: int = Field(default=2000, ge=1, le=1_000_000)
    max_request_bytes: int = Field(default=64 * 2**20, ge=1024, le=2**31)
    batch_reasons: bool = False
    reasons_per_direction: int = Field(default=3, ge=0, le=20)
    compiled_trees: bool = True
    compiled_trees_dir: Path | None = None
    runtime_dir: Path | None = None
    record_scores: bool = True
    score_store: Path | None = None
    outcome_days_mql_to_sql: int | None = Field(default=None, ge=1, le=3650)
    outcome_days_sql_to_won: int | None = Field(default=None, ge=1, le=3650)
    sales_capacity_per_week: float | None = Field(default=None, gt=0)
    engine: Literal["local", "dask"] = "local"
    scheduler: str | None = None

    @field_validator("horizons_days", mode="before")
    @classmethod
    def _horizons(cls, value: object) -> tuple[int, ...]:
        # "30,60,90" as people write it; each a whole number of days, 1 to 3650
        items = value.split(",") if isinstance(value, str) else value
        try:
            days = tuple(int(str(item).strip()) for item in items)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise ValueError(
                f"LEADSCORE_HORIZONS_DAYS: {value!r} is not a comma-separated list of days"
            ) from None
        if not days or any(not 1 <= d <= 3650 for d in days):
            raise ValueError(f"LEADSCORE_HORIZONS_DAYS: {value!r}: each must be 1 to 3650 days")
        if len(set(days)) != len(days):
            raise ValueError(f"LEADSCORE_HORIZONS_DAYS: {value!r} repeats a horizon")
        return tuple(sorted(days))

    @field_validator("api_key")
    @classmethod
    def _empty_key_is_no_key(cls, value: SecretStr | None) -> SecretStr | None:
        # LEADSCORE_API_KEY= (empty) switches authentication off rather than demanding ""
        return value if value is not None and value.get_secret_value() else None


def trees_cache_of(settings: Settings) -> Path | None:
    """The folder of compiled trees, or None when the API is not to compile them."""
    if not settings.compiled_trees:
        return None
    if settings.compiled_trees_dir is not None:
        return settings.compiled_trees_dir
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "leadscore" / "trees"


def score_store_of(settings: Settings) -> Path:
    """The SQLite file where scored leads and monitor results are kept: ``score_store``, else
    ``scored_leads.db`` beside a SQLite MLflow store (``MLFLOW_TRACKING_URI`` wins, as for
    tracking), else in ``data_dir``."""
    if settings.score_store is not None:
        return settings.score_store
    uri = os.environ.get("MLFLOW_TRACKING_URI") or settings.mlflow_tracking_uri
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).parent / "scored_leads.db"
    return settings.data_dir / "scored_leads.db"


def outcome_days_of(settings: Settings) -> dict[str, int]:
    """Per transition, the days after scoring until a lead's outcome counts as known."""
    return {
        "mql_to_sql": settings.outcome_days_mql_to_sql or settings.horizon_days,
        "sql_to_won": settings.outcome_days_sql_to_won or settings.horizon_days,
    }


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, built on first use (tests clear the cache to override)."""
    return Settings()
