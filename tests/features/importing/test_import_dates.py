"""Dates in a CRM export follow the same rule as flat tables (issue #22, item 2): one format per
column, decided from all its values; an entirely ambiguous column takes what the export's
other date columns prove, or the convention given, or the import stops naming the column."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from core.errors import InputError
from features.importing.parse import load_mapping, parse_mapping
from features.importing.run import import_export
from tests.features.importing.conftest import FIXTURES, imported

DATE_COLUMNS = {
    "Lead.csv": ["CreatedDate"],
    "LeadHistory.csv": ["CreatedDate"],
    "OpportunityHistory.csv": ["CreatedDate"],
    "Task.csv": ["CreatedDate", "CompletedDateTime"],
    "Event.csv": ["CreatedDate"],
    "CampaignMember.csv": ["CreatedDate"],
}


def rewritten(tmp_path: Path, pattern: str) -> Path:
    """The committed Salesforce export with every time written in ``pattern``."""
    export = Path(shutil.copytree(FIXTURES / "salesforce", tmp_path / "export"))
    for name, columns in DATE_COLUMNS.items():
        frame = pd.read_csv(export / name, dtype=str, keep_default_na=False)
        for column in columns:
            stamps = pd.to_datetime(frame[column], format="ISO8601", errors="coerce", utc=True)
            text = stamps.dt.strftime(pattern)
            frame[column] = text.where(stamps.notna(), frame[column])
        frame.to_csv(export / name, index=False)
    return export


def test_a_day_first_export_is_read_day_first_in_every_column(tmp_path: Path) -> None:
    """Lead.CreatedDate holds only 01/03/2024 .. 07/03/2024, each readable both ways; the
    other columns (20/03/2024, 15/03/2024 ...) prove day-first, so it is 1-7 March."""
    report = import_export(
        rewritten(tmp_path, "%d/%m/%Y %H:%M"), load_mapping("salesforce"), tmp_path / "out"
    )
    assert report.date_formats["Lead.CreatedDate"] == (
        "day-first (DD/MM/YYYY), as the other date columns of the file prove"
    )
    assert report.date_formats["LeadHistory.CreatedDate"].startswith(
        "day-first (DD/MM/YYYY), values"
    )
    reference = import_export(FIXTURES / "salesforce", load_mapping("salesforce"), tmp_path / "ref")
    for table in ("leads", "touches", "stage_changes"):
        got, expected = (
            getattr(imported(tmp_path / "out"), table),
            getattr(imported(tmp_path / "ref"), table),
        )
        pd.testing.assert_frame_equal(got, expected)
    assert "Lead.CreatedDate: day-first (DD/MM/YYYY)" in report.text()
    assert reference.date_formats["Lead.CreatedDate"] == "ISO 8601 (year first)"


def test_a_month_first_export_is_read_month_first(tmp_path: Path) -> None:
    report = import_export(
        rewritten(tmp_path, "%m/%d/%Y %I:%M %p"), load_mapping("salesforce"), tmp_path / "out"
    )
    assert report.date_formats["Task.CreatedDate"].startswith("month-first (MM/DD/YYYY)")
    leads = imported(tmp_path / "out").leads.set_index("lead_id")
    assert leads.loc["00Q5g00000A1bbbEAA", "created_at"] == pd.Timestamp("2024-03-02 10:30")


def test_a_column_mixing_conventions_stops_the_import_naming_it(tmp_path: Path) -> None:
    export = rewritten(tmp_path, "%d/%m/%Y %H:%M")
    task = pd.read_csv(export / "Task.csv", dtype=str, keep_default_na=False)
    task.loc[0, "CreatedDate"] = "03/15/2024 09:05"
    task.to_csv(export / "Task.csv", index=False)
    with pytest.raises(InputError, match=r"^Task\.CreatedDate: dates mix day-first .* --dayfirst"):
        import_export(export, load_mapping("salesforce"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


LEADS_ONLY = {
    "leads": {
        "from": "Lead",
        "columns": {
            "lead_id": "Id",
            "created_at": "CreatedDate",
            "lead_type": {"value": "informational"},
        },
    }
}


def test_an_entirely_ambiguous_export_stops_unless_the_convention_is_given(tmp_path: Path) -> None:
    export = rewritten(tmp_path, "%d/%m/%Y %H:%M")
    for other in ("LeadHistory", "OpportunityHistory", "Task", "Event", "CampaignMember"):
        (export / f"{other}.csv").unlink()
    mapping = parse_mapping(LEADS_ONLY, "leads.yaml")
    with pytest.raises(
        InputError,
        match=r"^Lead\.CreatedDate: dates are ambiguous: 6 values .*--dayfirst or --monthfirst",
    ):
        import_export(export, mapping, tmp_path / "out")
    report = import_export(export, mapping, tmp_path / "day", dates="dayfirst")
    assert report.date_formats["Lead.CreatedDate"].startswith("day-first (DD/MM/YYYY), as given")
    assert imported(tmp_path / "day").leads["created_at"].dt.month.unique().tolist() == [3]
    import_export(export, mapping, tmp_path / "month", dates="monthfirst")
    assert imported(tmp_path / "month").leads["created_at"].dt.day.unique().tolist() == [3]
    in_file = parse_mapping({**LEADS_ONLY, "dates": "dayfirst"}, "leads.yaml")
    import_export(export, in_file, tmp_path / "mapping")
    assert imported(tmp_path / "mapping").leads["created_at"].dt.month.unique().tolist() == [3]
