"""Shared fixtures: one small seeded simulated history for all tests, and MLflow stores in
temporary folders (real SQLite tracking and registry, no server)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from features.build import TrainingSet, build_training_sets
from features.history import LeadHistory
from features.io import write_simulation
from features.simulate import Simulation, simulate
from tests.cli.console import LEADSCORE
from tests.factories import without_stages
from training import tracking
from training.rules import HandSetRules, default_rules_path, load_rules

SIMULATED_LEADS = 8_000
NO_WON_DEALS_LEADS = 1_500  # a marketing-side history: MQLs and SQLs, no won or lost deals


@pytest.fixture(scope="session", autouse=True)
def compiled_trees_of_this_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The compiled trees the API builds in this run (servers started as subprocesses too) go
    to a folder of the run, not the user's cache."""
    folder = tmp_path_factory.mktemp("compiled-trees")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEADSCORE_COMPILED_TREES_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session", autouse=True)
def score_store_of_this_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Scores the API records in this run (servers started as subprocesses too) go to a file of
    the run, never beside an MLflow store in the working directory."""
    path = tmp_path_factory.mktemp("score-store") / "scored_leads.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEADSCORE_SCORE_STORE", str(path))
        yield path


@pytest.fixture(scope="session")
def simulation() -> Simulation:
    """8,000 leads over two years: enough rows for a model to learn, fast to build."""
    return simulate(SIMULATED_LEADS, seed=3, start=datetime(2024, 1, 1), days=730)


@pytest.fixture(scope="session")
def simulation_dir(simulation: Simulation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulation written as the CLI writes it (three tables, truth, metadata)."""
    directory = tmp_path_factory.mktemp("raw")
    write_simulation(simulation, directory)
    return directory


@pytest.fixture(scope="session")
def training_sets(simulation: Simulation) -> dict[str, TrainingSet]:
    return build_training_sets(simulation.history, horizon_days=90)


@pytest.fixture(scope="session")
def hand_set_rules() -> HandSetRules:
    return load_rules(default_rules_path())


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite tracking + registry store; returns its URI."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking.configure(uri, tmp_path / "mlartifacts", "leadscore-test")
    return uri


@pytest.fixture(scope="session")
def truth(simulation: Simulation) -> pd.DataFrame:
    return simulation.truth


@pytest.fixture(scope="module")
def dask_client() -> Iterator[object]:
    """A LocalCluster of two single-threaded worker processes for one test module (what the
    Dask engine starts on a laptop), closed after it."""
    from features.distributed.cluster import dask_client as start

    with start(None, workers=2, memory_limit="2GiB") as client:
        yield client


@pytest.fixture(scope="session")
def no_won_deals(tmp_path_factory) -> tuple[Path, LeadHistory]:
    """(the folder `leadscore train` ran in, the history) of a simulated history whose won and
    lost stage changes were dropped, trained on with `leadscore train` (plain LightGBM,
    promoted whatever the gate says: the test is about what serves)."""
    folder = tmp_path_factory.mktemp("no-won-deals")
    sim = simulate(NO_WON_DEALS_LEADS, seed=3, start=datetime(2024, 1, 1), days=730)
    history = without_stages(sim.history, ["won", "lost"])
    write_simulation(replace(sim, history=history), folder / "raw")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["LEADSCORE_RULES_PRIOR"] = "off"  # plain LightGBM: compiled trees and SHAP serve
    done = subprocess.run(
        [LEADSCORE, "train", "--data", str(folder / "raw"), "--promote"],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (folder / "train.stderr").write_text(done.stderr)
    (folder / "train.stdout").write_text(done.stdout)
    return folder, history
