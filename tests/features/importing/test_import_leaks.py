"""Leaky fields of an export: the ones the preset names, the ones that behave like the outcome
the import itself produced (measured with the flat exports' measures), and the lead fields
known only as their value at export time. Leaks never become features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.exporting import salesforce
from features.history import LeadHistory
from features.importing.parse import load_mapping, preset_text
from features.importing.report import ImportReport
from features.importing.run import import_export
from tests.features.importing.conftest import imported


def fields(report: ImportReport) -> dict[str, object]:
    return {f.column: f for f in report.leaky}


@pytest.fixture(scope="module")
def export(small_history: LeadHistory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Salesforce export whose Industry field sales rewrite once a lead converts
    ("Technology" for converted leads, "Media" for the others), the post-outcome edit a
    current-value field hides; and a job level where students (a third of the unconverted
    leads) never convert, an honest signal that is nearly pure."""
    folder = salesforce.write_salesforce(small_history, tmp_path_factory.mktemp("export"))
    lead = pd.read_csv(folder / "Lead.csv", dtype=str, keep_default_na=False)
    converted = lead["IsConverted"] == "true"
    lead["Industry"] = np.where(converted, "Technology", "Media")
    student = ~converted & (np.random.default_rng(0).random(len(lead)) < 0.3)
    lead["Job_Level__c"] = lead["Job_Level__c"].where(~student, "student")
    lead.to_csv(folder / "Lead.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def report(export: Path, tmp_path_factory: pytest.TempPathFactory) -> ImportReport:
    return import_export(export, load_mapping("salesforce"), tmp_path_factory.mktemp("out"))


def test_fields_the_preset_names_are_listed_with_the_measured_evidence(report) -> None:
    found = fields(report)
    converted = found["IsConverted"]
    assert (converted.source, converted.action, converted.feeds) == ("mapping", "not used", None)
    assert "the outcome itself; measured: determines the label" in converted.why
    assert found["ConvertedDate"].why.endswith("near-perfect predictor, AUC 1.000 on its own")
    assert {"Status", "Rating", "ConvertedOpportunityId"} <= set(found)
    assert "ConvertedAccountId" not in found  # named by the preset, but not in this export


def test_a_mapped_field_that_behaves_like_the_outcome_is_emptied(report, tmp_path) -> None:
    industry = fields(report)["Industry"]
    assert (industry.source, industry.feeds, industry.action) == ("measured", "industry", "emptied")
    assert "determines the label" in industry.why
    assert "Lead.Industry -> industry [emptied]" in report.text()
    leads = imported(Path(report.out)).leads
    assert leads["industry"].isna().all()


def test_keep_leaky_in_a_copied_mapping_keeps_the_field_and_says_so(export, tmp_path) -> None:
    text = preset_text("salesforce").replace(
        "    set_at_creation:", "    keep_leaky: [Industry]\n    set_at_creation:"
    )
    (tmp_path / "mine.yaml").write_text(text)
    report = import_export(export, load_mapping(tmp_path / "mine.yaml"), tmp_path / "out")
    assert fields(report)["Industry"].action == "kept (keep_leaky): leak risk"
    assert set(imported(tmp_path / "out").leads["industry"].astype(str)) == {
        "software_saas",
        "media_publishing",
    }


def test_current_value_fields_used_as_features_are_marked_as_leak_risks(report) -> None:
    found = fields(report)
    for column, feeds in (("NumberOfEmployees", "company_size"), ("Country", "country")):
        assert (found[column].source, found[column].feeds) == ("current value", feeds)
        assert found[column].action == "used: leak risk"
    assert "LeadSource" not in found  # the preset vouches it is set at creation


def test_an_honest_value_that_is_nearly_pure_is_a_suspect_and_kept(report) -> None:
    job_level = fields(report)["Job_Level__c"]
    assert job_level.action == "used: suspect" and "'student'" in job_level.why
    assert imported(Path(report.out)).leads["job_level"].notna().any()


def test_with_too_few_conversions_nothing_is_measured_and_the_report_says_so(tmp_path) -> None:
    from tests.features.importing.conftest import FIXTURES

    report = import_export(FIXTURES / "salesforce", load_mapping("salesforce"), tmp_path)
    assert any("too few converted and unconverted leads (2/5" in n for n in report.notes)
    assert all(f.source != "measured" for f in report.leaky)
