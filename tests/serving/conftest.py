"""A real registry for the API tests: two small LightGBM models trained once on the shared
simulation, logged and promoted to champion in a temporary SQLite MLflow store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from features.build import TrainingSet
from features.definitions import FEATURE_NAMES
from features.history import LeadHistory
from serving.api.app import create_app
from serving.scoring.served import ServedModel
from training import tracking
from training.bundle import ScoringBundle
from training.compiled_trees import trees_library
from training.model import LeadConversionModel
from training.rules import HandSetRules
from training.split import time_split
from training.timing.fit import fit_at
from training.tracking.pyfunc import example_payloads, flat_rows

SMALL_MODEL = {"n_estimators": 60, "num_leaves": 15, "early_stopping_rounds": 20}


def train_bundle(
    training_set: TrainingSet,
    rules: HandSetRules,
    seed: int = 0,
    history: LeadHistory | None = None,
    **params,
) -> ScoringBundle:
    """A small calibrated model of one transition, as ``training.run`` builds it (``params``:
    the model's other than ``SMALL_MODEL``); given the ``history``, with its timing model (the
    hazard model of the horizons 30, 60 and 90 days) learned from what was known when the
    test period starts."""
    split = time_split(training_set.frame)
    transition = training_set.manifest["transition"]
    timing = None
    if history is not None:
        timing = fit_at(
            history,
            transition,
            rules,
            cut_off=split.boundaries[1],
            horizons_days=(30, 60, 90),
            seed=seed,
        )
    features = list(FEATURE_NAMES)
    model = LeadConversionModel(random_state=seed, **{**SMALL_MODEL, **params})
    model.fit(
        split.train[features],
        split.train["label"],
        eval_set=(split.validation[features], split.validation["label"]),
    )
    y = split.test["label"].to_numpy()
    return ScoringBundle(
        transition=training_set.manifest["transition"],
        model=model,
        rules=rules,
        feature_names=features,
        metrics={"model": {"base_rate": float(y.mean()), "rows": len(y), "roc_auc": 0.7}},
        trained_at="2026-01-01T00:00:00+00:00",
        data_fingerprint=f"test-{seed}",
        compiled_trees=trees_library(model)[0],
        timing=timing,
    )


def register(
    bundle: ScoringBundle,
    history: LeadHistory,
    rows: pd.DataFrame,
    decision: dict | None = None,
) -> str:
    """Log ``bundle`` as a new version of its registered model and make it the champion (or
    record the gate's ``decision`` instead); returns the version."""
    return register_run(bundle, history, rows, decision)[1]


def register_run(
    bundle: ScoringBundle,
    history: LeadHistory,
    rows: pd.DataFrame,
    decision: dict | None = None,
) -> tuple[str, str]:
    """``register``, returning (run id, version): the run is where a later promotion of the
    version is recorded."""
    example = flat_rows(example_payloads(history, rows.head(2)))
    run_id, version = tracking.log_training_run(
        bundle,
        run_name=f"test-{bundle.transition}",
        params={"transition": bundle.transition},
        metrics={"model.roc_auc": 0.7},
        figures={},
        documents={},
        input_example=example,
    )
    decision = decision or {"promote": True, "reason": "test"}
    tracking.promote(bundle.transition, version, run_id, decision)
    return run_id, version


@pytest.fixture(scope="session")
def bundles(training_sets, hand_set_rules, simulation) -> dict[str, ScoringBundle]:
    return {
        t: train_bundle(s, hand_set_rules, history=simulation.history)
        for t, s in training_sets.items()
    }


def _store_with_champions(folder, experiment, bundles, training_sets, history, rows=None):
    """Settings of a fresh store where each transition of ``bundles`` has a champion."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        settings = Settings(
            mlflow_tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
            mlflow_artifacts_dir=folder / "mlartifacts",
            experiment=experiment,
        )
        tracking.configure(
            settings.mlflow_tracking_uri, settings.mlflow_artifacts_dir, settings.experiment
        )
        for transition, bundle in bundles.items():
            frame = training_sets[transition].frame
            register(bundle, history, frame if rows is None else frame.tail(rows))
    return settings


@pytest.fixture(scope="session")
def registry(tmp_path_factory, bundles, training_sets, simulation) -> Settings:
    """Settings of a store where both transitions have a champion (version 1)."""
    folder = tmp_path_factory.mktemp("registry")
    return _store_with_champions(
        folder, "leadscore-serving-test", bundles, training_sets, simulation.history, rows=2
    )


@pytest.fixture(scope="session")
def partial_registry(tmp_path_factory, bundles, training_sets, simulation) -> Settings:
    """Settings of a store where only MQL -> SQL has a champion (as after training on a
    history without won deals): the API serves part of the funnel."""
    folder = tmp_path_factory.mktemp("partial-registry")
    only_mql = {"mql_to_sql": bundles["mql_to_sql"]}
    return _store_with_champions(
        folder, "leadscore-partial-test", only_mql, training_sets, simulation.history
    )


@dataclass(frozen=True)
class ReloadStore:
    """A registry for reload tests. Attributes: settings (its store); runs: the run id of each
    MQL -> SQL version, to make any of them the champion."""

    settings: Settings
    runs: dict[str, str]

    def make_champion(self, version: str) -> None:
        """Points the MQL -> SQL ``champion`` alias at ``version`` (no reload: that is the
        test's to send)."""
        s = self.settings
        tracking.configure(s.mlflow_tracking_uri, s.mlflow_artifacts_dir, s.experiment)
        decision = {"promote": True, "reason": f"test: champion is version {version}"}
        tracking.promote("mql_to_sql", version, self.runs[version], decision)


@pytest.fixture(scope="session")
def newer_bundle(training_sets, hand_set_rules) -> ScoringBundle:
    """Another MQL -> SQL model (another seed and learning rate): other probabilities."""
    return train_bundle(training_sets["mql_to_sql"], hand_set_rules, seed=5, learning_rate=0.2)


@pytest.fixture(scope="module")
def reload_store(
    tmp_path_factory, bundles, newer_bundle, training_sets, simulation
) -> Iterator[ReloadStore]:
    """A registry of the module's own, where version 1 of both transitions is the champion and
    MQL -> SQL has two challengers to promote: version 2 (``newer_bundle``) and version 3
    (version 1's model again)."""
    folder = tmp_path_factory.mktemp("reload-store")
    rows = {t: s.frame.tail(2) for t, s in training_sets.items()}
    challenger = {"promote": False, "reason": "test: kept for a reload test"}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        settings = Settings(
            mlflow_tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
            mlflow_artifacts_dir=folder / "mlartifacts",
            experiment="leadscore-reload-test",
        )
        tracking.configure(
            settings.mlflow_tracking_uri, settings.mlflow_artifacts_dir, settings.experiment
        )
        runs = {}
        for bundle in (bundles["mql_to_sql"], newer_bundle, bundles["mql_to_sql"]):
            decision = None if not runs else challenger
            run_id, version = register_run(bundle, simulation.history, rows["mql_to_sql"], decision)
            runs[version] = run_id
        register(bundles["sql_to_won"], simulation.history, rows["sql_to_won"])
        assert sorted(runs) == ["1", "2", "3"]
        yield ReloadStore(settings, runs)


@pytest.fixture
def no_tracking_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture
def make_client(no_tracking_env) -> Iterator:
    """Opens TestClients (lifespan run) for given settings; closes them after the test."""
    clients: list[TestClient] = []

    def make(settings: Settings, **kwargs) -> TestClient:
        client = TestClient(create_app(settings), **kwargs)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(registry, make_client) -> TestClient:
    return make_client(registry)


def _plain(value):
    if value is None or (not isinstance(value, str | list | dict) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def request_of(history: LeadHistory, lead_id, as_of: pd.Timestamp) -> dict:
    """The /v1/score body of a simulated lead, at ``as_of`` (JSON-ready)."""
    lead = history.leads[history.leads["lead_id"] == lead_id].iloc[0].to_dict()
    touches = history.touches[history.touches["lead_id"] == lead_id].drop(columns="lead_id")
    stages = history.stage_changes[history.stage_changes["lead_id"] == lead_id]
    body = {
        "lead": {k: _plain(v) for k, v in lead.items()},
        "touches": [{k: _plain(v) for k, v in t.items()} for t in touches.to_dict("records")],
        "stage_changes": [
            {k: _plain(v) for k, v in s.items()}
            for s in stages.drop(columns="lead_id").to_dict("records")
        ],
        "as_of": pd.Timestamp(as_of).isoformat() + "Z",
    }
    return json.loads(json.dumps(body))


@pytest.fixture(scope="session")
def lead_request(simulation, training_sets) -> dict:
    """One MQL at its decision time, with a good number of touches."""
    rows = training_sets["mql_to_sql"].frame
    counts = simulation.history.touches["lead_id"].value_counts()
    row = rows[rows["lead_id"].map(counts).fillna(0) >= 15].iloc[0]
    return request_of(simulation.history, row["lead_id"], row["decision_time"])


@pytest.fixture(scope="module")
def real_leads(simulation) -> list[dict]:
    """Simulated leads at assorted times: in the funnel, converted, lost, without touches."""
    history = simulation.history
    rng = np.random.default_rng(11)
    ids = rng.choice(history.leads["lead_id"].to_numpy(), 40, replace=False)
    end = max(history.touches["occurred_at"].max(), history.stage_changes["changed_at"].max())
    created = history.leads.set_index("lead_id")["created_at"]
    leads = []
    for i, lead_id in enumerate(ids):
        span = (end - created[lead_id]).total_seconds()
        as_of = created[lead_id] + pd.Timedelta(seconds=span * rng.uniform(0.05, 1.0))
        leads.append(request_of(history, lead_id, as_of.floor("s")))
        if i % 4 == 0:
            leads[-1]["as_of"] = None  # now
    return leads


@pytest.fixture(scope="module")
def model(bundles) -> LeadConversionModel:
    """The MQL -> SQL model, the deeper of the two."""
    return bundles["mql_to_sql"].model


@pytest.fixture
def served_on_real_rows(client, training_sets) -> list[tuple[str, ServedModel, np.ndarray]]:
    """Each model the API serves, with its transition's training rows encoded as it encodes
    them: real rows, missing values among them."""
    served_rows = []
    for transition, served in client.app.state.models.current.by_transition.items():
        frame = training_sets[transition].frame[list(FEATURE_NAMES)]
        matrix = served.bundle.model.encode(frame)
        assert len(matrix) > 500 and np.isnan(matrix).any()
        served_rows.append((transition, served, matrix))
    return served_rows
