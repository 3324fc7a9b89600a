"""``leadscore import`` as a user runs it: a CRM export in, the contract tables and the report
out, then ``leadscore train`` on the imported folder; bad input ends in one line and exit 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from tests.cli.console import LEADSCORE, assert_error_after_progress, assert_one_line_error
from tests.features.importing.conftest import FIXTURES

EXPORT_LEADS = 6_000  # enough SQLs and wins for both transitions' splits


def run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI in ``folder`` with its MLflow store and data folder inside it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LEADSCORE_") and k != "MLFLOW_TRACKING_URI"
    }
    env |= {
        "LEADSCORE_MLFLOW_TRACKING_URI": f"sqlite:///{folder}/mlflow.db",
        "LEADSCORE_MLFLOW_ARTIFACTS_DIR": str(folder / "mlartifacts"),
        "LEADSCORE_DATA_DIR": str(folder / "data"),
        "LEADSCORE_EXPERIMENT": "import-test",
    }
    return subprocess.run(
        [LEADSCORE, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=900
    )


def import_then_train(tmp_path: Path, fmt: str, preset: str) -> tuple[str, dict]:
    export = tmp_path / "export"
    made = run(
        tmp_path, "generate", "--leads", str(EXPORT_LEADS), "--format", fmt, "--out", str(export)
    )
    assert made.returncode == 0, made.stderr[-2000:]
    imported = run(
        tmp_path, "import", str(export), "--format", preset, "--out", str(tmp_path / "imported")
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert (tmp_path / "imported" / "import_report.json").is_file()
    trained = run(tmp_path, "train", "--data", str(tmp_path / "imported"), "--json")
    assert trained.returncode == 0, trained.stderr[-3000:]
    metrics = json.loads(trained.stdout)
    assert set(metrics) == {"mql_to_sql", "sql_to_won"}
    assert all(0.5 < m["model"]["roc_auc"] <= 1 for m in metrics.values())
    return imported.stdout, {"stderr": trained.stderr, "store": f"sqlite:///{tmp_path}/mlflow.db"}


def logged_leaky_fields(store: str) -> str:
    client = MlflowClient(tracking_uri=store)
    (experiment,) = client.search_experiments(filter_string="name = 'import-test'")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2
    return runs[0].data.params["import.leaky_fields"]


@pytest.mark.slow
def test_a_salesforce_export_imports_and_trains_end_to_end(tmp_path: Path) -> None:
    report, train = import_then_train(tmp_path, "salesforce", "salesforce")
    for named in ("Lead.IsConverted [not used]", "Lead.ConvertedDate [not used]", "Lead.Status"):
        assert named in report
    assert "Lead.Industry -> industry [used: leak risk]" in report
    assert "import: Lead.IsConverted [not used]" in train["stderr"]
    assert "Lead.IsConverted [not used]" in logged_leaky_fields(train["store"])


@pytest.mark.slow
def test_a_hubspot_labelled_export_imports_and_trains_end_to_end(tmp_path: Path) -> None:
    report, train = import_then_train(tmp_path, "hubspot-labels", "hubspot")
    for named in ("contacts.Lifecycle Stage [not used]", "contacts.Lead Status [not used]"):
        assert named in report
    assert "contacts.Number of Associated Deals [not used]" in report
    assert "contacts.Lifecycle Stage" in logged_leaky_fields(train["store"])


def test_the_report_prints_each_date_columns_format(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "import",
        str(FIXTURES / "salesforce"),
        "--format",
        "salesforce",
        "--out",
        str(tmp_path / "out"),
    )
    assert result.returncode == 0, result.stderr
    assert "  Lead.CreatedDate: ISO 8601 (year first)" in result.stdout
    assert "  Task.CompletedDateTime: ISO 8601 (year first)" in result.stdout


def test_a_date_column_mixing_conventions_exits_2_naming_it_and_the_option(tmp_path: Path) -> None:
    export = Path(shutil.copytree(FIXTURES / "salesforce", tmp_path / "export"))
    lead = (export / "Lead.csv").read_text()
    lead = lead.replace("2024-03-01T09:00:00.000Z", "15/03/2024 09:00").replace(
        "2024-03-02T10:30:00.000Z", "03/15/2024 10:30"
    )
    (export / "Lead.csv").write_text(lead)
    result = run(
        tmp_path, "import", str(export), "--format", "salesforce", "--out", str(tmp_path / "out")
    )
    assert_error_after_progress(result, "Lead.CreatedDate", "mix day-first", "--dayfirst")
    assert not (tmp_path / "out").exists()


def test_an_unreadable_file_exits_2_naming_it(tmp_path: Path) -> None:
    export = Path(shutil.copytree(FIXTURES / "salesforce", tmp_path / "export"))
    (export / "Lead.csv").write_bytes(b"\x00\xff\xfe" * 40)
    result = run(tmp_path, "import", str(export), "--format", "salesforce")
    assert_one_line_error(result, "Lead.csv", "cannot read it")


def test_missing_format_or_a_bad_mapping_exits_2(tmp_path: Path) -> None:
    assert_one_line_error(run(tmp_path, "import", str(FIXTURES / "salesforce")), "--format")
    mapping = tmp_path / "mine.yaml"
    mapping.write_text("leads:\n  from: Lead\n  colums: {}\n")
    result = run(tmp_path, "import", str(FIXTURES / "salesforce"), "--format", str(mapping))
    assert_one_line_error(result, "mine.yaml", "leads[0]", "unknown key 'colums'")


def test_show_preset_prints_a_mapping_to_copy_and_edit(tmp_path: Path) -> None:
    result = run(tmp_path, "import", "--show-preset", "hubspot")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# leadscore import mapping: HubSpot")
    copy = tmp_path / "my_hubspot.yaml"
    copy.write_text(result.stdout.replace("Lead Type", "Type of lead"))
    assert yaml.safe_load(copy.read_text())["name"] == "hubspot"
    out = run(tmp_path, "import", str(FIXTURES / "hubspot_labels"), "--format", str(copy), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["tables"]["leads"]["rows"] == 4
