"""Which MLflow store a process logs to: the configured one, unless the user set
MLFLOW_TRACKING_URI; an earlier configuration in the same process never decides."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest

from training.tracking import configure


@pytest.fixture
def no_user_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)


def test_a_later_store_is_not_overruled_by_an_earlier_one(tmp_path: Path, no_user_uri):
    first, second = (f"sqlite:///{tmp_path / name}.db" for name in ("first", "second"))
    configure(first, tmp_path / "first", "leadscore-test")
    configure(second, tmp_path / "second", "leadscore-test")
    assert mlflow.get_tracking_uri() == second
    assert mlflow.get_registry_uri() == second
    assert "MLFLOW_TRACKING_URI" not in os.environ  # MLflow's own write, taken back


def test_the_users_mlflow_tracking_uri_wins(
    tmp_path: Path, no_user_uri, monkeypatch: pytest.MonkeyPatch
):
    theirs = f"sqlite:///{tmp_path / 'theirs.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", theirs)
    configure(f"sqlite:///{tmp_path / 'ours.db'}", tmp_path / "ours", "leadscore-test")
    assert mlflow.get_tracking_uri() == theirs
    assert os.environ["MLFLOW_TRACKING_URI"] == theirs
    assert not (tmp_path / "ours.db").exists()
