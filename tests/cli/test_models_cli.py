"""`leadscore models` and `leadscore rollback` on a real SQLite MLflow store, with versions that
real training runs registered and gated: the listing shows what each version is, a rollback
moves `champion` back (and what the registry then serves is that version, also for a running
API after its reload), and every refusal is one `error:` line with exit code 2."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from core.settings import Settings, get_settings
from leadscore.cli import main
from tests.serving.conftest import request_of
from tests.serving.servers import start_server, wait_ready
from training import tracking
from training.run import train_transition
from training.tracking.registry import PREVIOUS_CHAMPION

MQL, WON = "leadscore-mql-to-sql", "leadscore-sql-to-won"
SMALL = {"n_estimators": 60}
FLOOR = 10**6  # min_positives no history reaches: the calibrated hand-set score serves


@dataclass(frozen=True)
class Store:
    """The module's registry. mql_to_sql: version 1 plain LightGBM (champion first), version 2
    LightGBM on the rules (champion after it, replacing 1), version 3 the calibrated rules
    (held back as challenger); sql_to_won: version 1 only, the calibrated rules, champion.
    Attributes: settings (its store), aucs: each mql_to_sql version's (test AUC, rules AUC)."""

    settings: Settings
    aucs: dict[str, tuple[float, float]]

    def client(self) -> MlflowClient:
        uri = self.settings.mlflow_tracking_uri
        return MlflowClient(tracking_uri=uri, registry_uri=uri)

    def reset(self) -> None:
        """Back to the state training left: champion 2, no rollback recorded anywhere."""
        client = self.client()
        for version in ("1", "2", "3"):
            for key in client.get_model_version(MQL, version).tags:
                if key.startswith("rollback.") or (key == PREVIOUS_CHAMPION and version != "2"):
                    client.delete_model_version_tag(MQL, version, key)
        client.set_registered_model_alias(MQL, tracking.CHAMPION, "2")


def connect(mp: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point MLflow in this process at ``settings``' store, with ``MLFLOW_TRACKING_URI`` unset
    (as a user's shell has it: set, it would win over the store the settings name)."""
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracking.configure(
        settings.mlflow_tracking_uri, settings.mlflow_artifacts_dir, settings.experiment
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory, training_sets, simulation, hand_set_rules) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("models-store")
    settings = Settings(
        mlflow_tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        mlflow_artifacts_dir=folder / "mlartifacts",
        experiment="leadscore-models-test",
    )
    runs = (  # (transition, prior, min_positives, promote)
        ("mql_to_sql", "off", 20, True),
        ("mql_to_sql", "on", 20, True),
        ("mql_to_sql", "auto", FLOOR, False),
        ("sql_to_won", "auto", FLOOR, None),
    )
    aucs = {}
    with pytest.MonkeyPatch.context() as mp:
        connect(mp, settings)
        for transition, prior, min_positives, promote in runs:
            result = train_transition(
                training_sets[transition],
                simulation.history,
                hand_set_rules,
                seed=1,
                model_params=SMALL,
                prior=prior,
                min_positives=min_positives,
                promote=promote,
            )
            if transition == "mql_to_sql":
                metrics = result.metrics
                aucs[result.version] = (
                    metrics["model"]["roc_auc"],
                    metrics["baseline"]["roc_auc"],
                )
        yield Store(settings, aucs)


@pytest.fixture
def registry(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The module's store, as training left it, for the command line of this test."""
    store.reset()
    connect(monkeypatch, store.settings)
    monkeypatch.setenv("LEADSCORE_MLFLOW_TRACKING_URI", store.settings.mlflow_tracking_uri)
    monkeypatch.setenv("LEADSCORE_MLFLOW_ARTIFACTS_DIR", str(store.settings.mlflow_artifacts_dir))
    monkeypatch.setenv("LEADSCORE_EXPERIMENT", store.settings.experiment)
    return store


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def leadscore(capsys, monkeypatch: pytest.MonkeyPatch):
    """Runs the console entry point in this process, as `leadscore ARGS` would (settings read
    anew from the environment); returns its exit code and output."""

    def run(*args: str) -> Ran:
        monkeypatch.setattr(sys, "argv", ["leadscore", *args])
        capsys.readouterr()
        get_settings.cache_clear()
        try:
            main()
        except SystemExit as done:
            code = done.code
        finally:
            get_settings.cache_clear()
        out, err = capsys.readouterr()
        return Ran(int(code or 0), out, err)

    return run


def assert_refused(ran: Ran, *fragments: str) -> None:
    """Exit 2 and nothing on stderr but one `error:` line naming each fragment."""
    assert ran.code == 2, ran
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), ran.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert ran.stdout == ""


def champion(store: Store) -> str:
    return str(store.client().get_model_version_by_alias(MQL, tracking.CHAMPION).version)


def test_models_lists_each_version_newest_first_with_aliases_aucs_what_serves_and_the_gate(
    registry, leadscore
):
    ran = leadscore("models")
    assert ran.code == 0, ran.stderr
    text = ran.stdout
    assert "mql_to_sql: leadscore-mql-to-sql, 3 versions; champion: version 2\n" in text
    assert "\n  `leadscore rollback mql_to_sql` goes back to version 1\n" in text
    rows = re.findall(r"^\s+(\d+)  \d{4}-\d\d-\d\d \d\d:\d\d  ", text, re.M)
    assert rows == ["3", "2", "1", "1"]  # newest first; then sql_to_won's version 1
    mql = text.split("\n\n")[0]
    for version, serves, aliases in (
        ("3", "calibrated rules only", "challenger"),
        ("2", "LightGBM on rules", "champion"),
        ("1", "plain LightGBM", "-"),
    ):
        row = re.search(rf"^\s+{version}  .*$", mql, re.M).group(0)
        auc, rules_auc = registry.aucs[version]
        assert row.split()[3:6] == [aliases, f"{auc:.3f}", f"{rules_auc:.3f}"], row
        assert row.endswith(serves), row
    said = " ".join(line.strip() for line in mql.splitlines())
    assert "gate (challenger): held back by --no-promote (the gate alone: challenger AUC" in said
    assert "gate (champion): forced by --promote (the gate alone: challenger AUC" in said
    assert "replaced: version 1 as champion" in said
    assert "sql_to_won: leadscore-sql-to-won, 1 version; champion: version 1\n" in text


def test_models_json_is_one_object_with_the_same_facts(registry, leadscore):
    ran = leadscore("models", "--transition", "mql_to_sql", "--json")
    assert ran.code == 0, ran.stderr
    listing = json.loads(ran.stdout)
    assert list(listing) == ["mql_to_sql"]
    model = listing["mql_to_sql"]
    assert (model["registered_model"], model["champion"], model["rollback_to"]) == (MQL, "2", "1")
    versions = {v["version"]: v for v in model["versions"]}
    assert [v["version"] for v in model["versions"]] == ["3", "2", "1"]
    assert versions["2"]["aliases"] == ["champion"]
    assert versions["2"]["previous_champion"] == "1"
    assert versions["2"]["serves"] == "with_rules"
    assert versions["3"]["promotion"] == "challenger"
    assert versions["1"]["roc_auc"] == pytest.approx(registry.aucs["1"][0])
    assert versions["1"]["rules_auc"] == pytest.approx(registry.aucs["1"][1])


def test_rollback_returns_to_the_previous_champion_and_the_registry_serves_it(registry, leadscore):
    ran = leadscore("rollback", "mql_to_sql", "--reason", "v2 over-scores webinar leads")
    assert ran.code == 0, ran.stderr
    assert f"{MQL}: champion moved from version 2 to version 1" in ran.stdout
    assert "reason: v2 over-scores webinar leads" in ran.stdout
    assert "  curl -s -X POST localhost:8000/v1/models/reload\n" in ran.stdout
    assert champion(registry) == "1"
    bundle, version = tracking.load_bundle_version("mql_to_sql")
    assert version == "1" and bundle.model.prior_ is None  # version 1: plain LightGBM
    tags = registry.client().get_model_version(MQL, "1").tags
    assert tags["rollback.from_version"] == "2" and tags[PREVIOUS_CHAMPION] == "2"
    assert tags["rollback.reason"] == "v2 over-scores webinar leads"
    assert tags["rollback.by"] and tags["rollback.at"].startswith("20")
    # the listing shows it; a second rollback undoes the first
    assert "rolled back: from version 2 by" in leadscore("models").stdout
    again = leadscore("rollback", "mql_to_sql")
    assert "champion moved from version 1 to version 2" in again.stdout
    assert champion(registry) == "2"


def test_rollback_to_a_named_version(registry, leadscore):
    ran = leadscore("rollback", "mql_to_sql", "--to", "3", "--port", "8123")
    assert ran.code == 0, ran.stderr
    assert "champion moved from version 2 to version 3" in ran.stdout
    assert "curl -s -X POST localhost:8123/v1/models/reload" in ran.stdout
    assert champion(registry) == "3"
    assert tracking.load_bundle_version("mql_to_sql")[1] == "3"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("rollback", "mql_to_won"), ("transition 'mql_to_won'", "mql_to_sql or sql_to_won")),
        (("models", "--transition", "won"), ("transition 'won'",)),
        (("rollback", "mql_to_sql", "--to", "9"), ("--to 9", "has no version 9", "1, 2, 3")),
        (("rollback", "mql_to_sql", "--to", "2"), ("version 2 is already the champion", MQL)),
        (
            ("rollback", "sql_to_won"),
            (WON, "no earlier champion", "version 1 is the first champion", "--to"),
        ),
    ],
)
def test_refusals_are_one_error_line_with_exit_code_2(registry, leadscore, args, fragments):
    assert_refused(leadscore(*args), *fragments)
    assert champion(registry) == "2"


def test_no_store_says_to_train_first_and_creates_none(tmp_path, leadscore, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    missing = tmp_path / "mlflow.db"
    monkeypatch.setenv("LEADSCORE_MLFLOW_TRACKING_URI", f"sqlite:///{missing}")
    for args in (("models",), ("rollback", "mql_to_sql")):
        assert_refused(leadscore(*args), "no MLflow store", str(missing), "train first")
    assert not missing.exists()


def test_an_empty_store_says_to_train_first(tmp_path, leadscore, monkeypatch):
    empty = Settings(
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        mlflow_artifacts_dir=tmp_path / "mlartifacts",
    )
    connect(monkeypatch, empty)  # the store and its experiment, no model
    monkeypatch.setenv("LEADSCORE_MLFLOW_TRACKING_URI", empty.mlflow_tracking_uri)
    assert_refused(leadscore("models"), MQL, WON, "train first (leadscore train)")
    assert_refused(leadscore("rollback", "sql_to_won"), "no registered model", "train first")


def test_a_running_api_serves_the_rolled_back_version_after_the_printed_reload_line(
    registry, leadscore, simulation, training_sets, tmp_path: Path, monkeypatch
):
    """Real uvicorn with an API key: the line `rollback` prints, run as printed by a shell
    (the key from the environment), makes it serve the version rolled back to."""
    monkeypatch.setenv("LEADSCORE_API_KEY", "rollback-test-key")
    key = {"X-API-Key": "rollback-test-key"}
    server, base = start_server(registry.settings, tmp_path, workers=1)
    try:
        wait_ready(server, base)
        row = training_sets["mql_to_sql"].frame.iloc[-1]
        lead = request_of(simulation.history, row["lead_id"], row["decision_time"])
        score = f"{base}/v1/score"
        before = httpx.post(score, json=lead, headers=key, timeout=30).json()["mql_to_sql"]
        assert before["model"]["version"] == "2"
        ran = leadscore("rollback", "mql_to_sql", "--port", base.rsplit(":", 1)[1])
        line = ran.stdout.splitlines()[-1].strip()
        assert line == (
            f"curl -s -X POST localhost:{base.rsplit(':', 1)[1]}/v1/models/reload "
            '-H "X-API-Key: $LEADSCORE_API_KEY"'
        )
        reload = subprocess.run(
            ["bash", "-c", line], capture_output=True, text=True, timeout=60, env=os.environ
        )
        assert reload.returncode == 0, reload.stderr
        served = {m["transition"]: m["version"] for m in json.loads(reload.stdout)["models"]}
        assert served == {"mql_to_sql": "1", "sql_to_won": "1"}
        after = httpx.post(score, json=lead, headers=key, timeout=30).json()["mql_to_sql"]
        assert after["model"]["version"] == "1"
        assert after["probability"] != before["probability"]
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_rollback_says_when_the_api_serves_another_alias(registry, leadscore, monkeypatch):
    monkeypatch.setenv("LEADSCORE_MODEL_ALIAS", "challenger")
    ran = leadscore("rollback", "mql_to_sql")
    assert ran.code == 0, ran.stderr
    assert "the API serves the alias 'challenger' ($LEADSCORE_MODEL_ALIAS), not champion" in (
        ran.stdout
    )


def test_a_champion_registered_before_the_previous_champion_tag_goes_back_by_the_gate_record(
    registry, leadscore
):
    """Stores trained before the tag existed: the newest older version the gate promoted."""
    registry.client().delete_model_version_tag(MQL, "2", PREVIOUS_CHAMPION)
    try:
        assert json.loads(leadscore("models", "--json").stdout)["mql_to_sql"]["rollback_to"] == "1"
        assert "from version 2 to version 1" in leadscore("rollback", "mql_to_sql").stdout
    finally:
        registry.client().set_model_version_tag(MQL, "2", PREVIOUS_CHAMPION, "1")
