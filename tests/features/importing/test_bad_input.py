"""Bad input to the importer: what stops it (one ``InputError`` naming the file, column and
problem) and what it counts and goes on from (a report line with a count and an example)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from core.errors import InputError
from features.importing.parse import load_mapping, parse_mapping
from features.importing.run import import_export
from tests.features.importing.conftest import FIXTURES


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A copy of the committed Salesforce export to spoil."""
    return Path(shutil.copytree(FIXTURES / "salesforce", tmp_path / "export"))


def edit(path: Path, **changes) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column, change in changes.items():
        if change is None:
            frame = frame.drop(columns=column)
        else:
            frame[column] = change(frame[column])
    frame.to_csv(path, index=False)


def run(export: Path, tmp_path: Path, mapping: str = "salesforce"):
    return import_export(export, load_mapping(mapping), tmp_path / "out")


def tally(report, table: str, source: str):
    return next(t for t in report.blocks if t.table == table and t.source == source)


def test_a_missing_required_column_skips_its_table_with_a_count(export, tmp_path) -> None:
    edit(export / "Task.csv", WhoId=None)
    report = run(export, tmp_path)
    task = tally(report, "touches", "Task")
    ((reason, (rows, example)),) = task.skipped.items()
    assert reason == "required column missing: touches.lead_id needs one of WhoId" and rows == 8
    assert example.startswith("columns found: Id, Subject")
    assert report.tables["touches"]["rows"] == 5  # events and campaign responses still came


def test_a_leads_table_without_its_id_stops_naming_file_and_column(export, tmp_path) -> None:
    edit(export / "Lead.csv", Id=None)
    with pytest.raises(
        InputError, match=r"Lead\.csv: required column missing: leads\.lead_id needs one of Id"
    ):
        run(export, tmp_path)
    assert not (tmp_path / "out").exists()


def test_an_unknown_stage_value_is_counted_with_an_example(export, tmp_path) -> None:
    edit(export / "LeadHistory.csv", NewValue=lambda v: v.replace("Working - Contacted", "Engaged"))
    history = tally(run(export, tmp_path), "stage_changes", "LeadHistory")
    assert history.skipped["unknown stage value (LeadHistory.NewValue)"] == [3, "row 1: 'Engaged'"]


def test_unparsable_dates_are_counted_with_an_example(export, tmp_path) -> None:
    edit(export / "Event.csv", CreatedDate=lambda v: v.where(v.index != 1, "next Tuesday"))
    events = tally(run(export, tmp_path), "touches", "Event")
    assert events.skipped["unreadable occurred_at (Event.CreatedDate)"] == [
        1,
        "row 1: 'next Tuesday'",
    ]
    assert events.rows_out == 1


def test_ids_that_do_not_join_are_counted_with_an_example(export, tmp_path) -> None:
    edit(export / "Event.csv", WhoId=lambda v: "0035g00000X" + v.str[-7:])
    events = tally(run(export, tmp_path), "touches", "Event")
    expected = [2, "row 0: '0035g00000X1aaaEAA'"]
    assert events.skipped["lead_id not in leads (Event.WhoId)"] == expected


def test_a_file_that_cannot_be_read_stops_naming_it(export, tmp_path) -> None:
    (export / "Task.csv").write_bytes(b"Id,WhoId\n\xff\xfe\x00garbage,\x81\n")
    with pytest.raises(InputError, match=r"Task\.csv: cannot read it"):
        run(export, tmp_path)


def test_an_export_without_the_leads_table_stops(export, tmp_path) -> None:
    (export / "Lead.csv").unlink()
    with pytest.raises(InputError, match=r"no Lead table, which the leads come from"):
        run(export, tmp_path)


def test_a_missing_optional_table_is_noted_and_the_rest_imported(export, tmp_path) -> None:
    (export / "Event.csv").unlink()
    report = run(export, tmp_path)
    assert "no Event table in the export: nothing read" in tally(report, "touches", "Event").notes
    assert report.tables["touches"]["rows"] == 7


def test_a_source_that_is_no_folder_or_duckdb_file_is_refused(tmp_path) -> None:
    (tmp_path / "export.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match=r"export\.csv: give the export's folder"):
        import_export(tmp_path / "export.csv", load_mapping("salesforce"), tmp_path / "out")
    with pytest.raises(InputError, match=r"nowhere: no such folder or DuckDB file"):
        import_export(tmp_path / "nowhere", load_mapping("salesforce"), tmp_path / "out")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"leads": [{"from": "Lead", "colums": {}}]}, r"at leads\[0\]: unknown key 'colums'"),
        ({"touches": []}, r"the mapping has no leads block"),
        (
            {
                "leads": {
                    "from": "L",
                    "columns": {"lead_id": "Id", "created_at": "C", "lead_type": {"value": "hot"}},
                }
            },
            r"leads\[0\]\.columns\.lead_type: 'hot' is not a lead_type value",
        ),
        (
            {
                "leads": {
                    "from": "L",
                    "columns": {"lead_id": "Id", "created_at": "C", "lead_type": "T"},
                },
                "stage_changes": {
                    "from": "H",
                    "columns": {
                        "lead_id": "L",
                        "changed_at": "C",
                        "stage": {"column": "S", "map": {"Won": "closed"}},
                    },
                },
            },
            r"stage_changes\[0\]\.columns\.stage: 'closed' is not a stage value",
        ),
        (
            {"leads": {"from": "L", "columns": {"lead_id": "Id", "lead_type": "T"}}},
            r"leads\[0\]\.columns: created_at is required",
        ),
        ({"dates": "yearfirst", "leads": {}}, r"at dates: 'yearfirst' is not auto"),
    ],
)
def test_a_mapping_with_a_mistake_names_the_place_and_the_problem(raw, message) -> None:
    with pytest.raises(InputError, match=r"mapping my\.yaml.*" + message):
        parse_mapping(raw, "my.yaml")


def test_picklist_words_yes_no_on_off_stay_text_in_a_mapping_file(tmp_path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "leads:\n  from: Lead\n  columns:\n    lead_id: Id\n    created_at: CreatedDate\n"
        "    lead_type:\n      column: Kind\n"
        "      map: {Yes: hand_raiser, No: informational, On: transactional}\n"
    )
    spec = load_mapping(path).blocks[0].columns["lead_type"]
    assert spec.map == {"yes": "hand_raiser", "no": "informational", "on": "transactional"}
