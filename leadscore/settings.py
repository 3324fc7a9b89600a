"""One settings object for every job. Values come from ``LEADSCORE_*`` environment variables
(or a ``.env`` file) and have defaults that work from a fresh clone. Only the edges (CLI, app)
read settings; everything below them takes plain keyword arguments."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Attributes:
    data_dir: where generated lead history, truth files and training sets live.
    seed: seed of every random step (simulation, splits, models) unless overridden.
    horizon_days: a transition counts as converted when it happens within this many days of
        the decision time; rows whose horizon had not elapsed when the data ends are censored.
    mlflow_tracking_uri: tracking and registry store; ``MLFLOW_TRACKING_URI`` wins when set.
    mlflow_artifacts_dir: where run artifacts go with the embedded SQLite store.
    experiment: MLflow experiment of training runs.
    rules_path: the hand-set rules file (default: the shipped models/hand_set_rules.yaml).
    """

    model_config = SettingsConfigDict(env_prefix="LEADSCORE_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    seed: int = 7
    horizon_days: int = Field(default=90, ge=1, le=3650)
    mlflow_tracking_uri: str = "sqlite:///mlflow.db"
    mlflow_artifacts_dir: Path = Path("mlartifacts")
    experiment: str = "leadscore"
    rules_path: Path | None = None


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, built on first use (tests clear the cache to override)."""
    return Settings()
