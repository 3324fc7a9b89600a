"""features.io: tables round-trip with contract dtypes; missing or unreadable files stop with an
error naming the file."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from core.contract import TABLES
from core.errors import DataContractError, InputError
from features.history import LeadHistory
from features.io import (
    read_lead_history,
    read_table,
    read_training_set,
    read_truth,
    write_lead_history,
    write_simulation,
    write_training_set,
)
from features.simulate import Simulation
from tests.factories import NOW, make_history, make_leads, make_stage_changes, make_touches


def history_with_gaps() -> LeadHistory:
    """Valid history whose optional columns hold missing values of every dtype."""
    leads = make_leads(3)
    leads.loc[0, ["industry", "company_size", "has_phone", "country", "source"]] = None
    leads.loc[1, "annual_revenue"] = None
    touches = make_touches(leads)
    touches.loc[0, ["page_type", "duration_s"]] = None
    return LeadHistory(leads, touches, make_stage_changes(leads, ("lead", "mql", "sql", "won")))


def assert_same_history(left: LeadHistory, right: LeadHistory) -> None:
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(left, table), getattr(right, table))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_written_history_reads_back_identical(tmp_path: Path, fmt: str):
    history = history_with_gaps()
    write_lead_history(history, tmp_path, fmt)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{t}.{fmt}" for t in TABLES)
    result, set_aside = read_lead_history(tmp_path, now=NOW)
    assert set_aside == []
    assert_same_history(result, history)


def test_parquet_keeps_contract_dtypes_without_validation(tmp_path: Path):
    history = history_with_gaps()
    write_lead_history(history, tmp_path)
    for table in TABLES:
        read = read_table(tmp_path / f"{table}.parquet")
        pd.testing.assert_frame_equal(read, getattr(history, table))


def test_text_ids_round_trip_through_parquet(tmp_path: Path):
    history = make_history()
    as_text = LeadHistory(
        *(
            getattr(history, t).assign(lead_id=lambda f: "L" + f["lead_id"].astype(str))
            for t in TABLES
        )
    )
    write_lead_history(as_text, tmp_path)
    result, _ = read_lead_history(tmp_path, now=NOW)
    assert result.leads["lead_id"].dtype == "str"
    assert_same_history(result, as_text)


def test_parquet_is_preferred_when_both_formats_exist(tmp_path: Path):
    history = make_history()
    write_lead_history(history, tmp_path, "csv")
    write_lead_history(
        LeadHistory(
            history.leads.iloc[:1], history.touches.iloc[:2], history.stage_changes.iloc[:2]
        ),
        tmp_path,
        "parquet",
    )
    result, _ = read_lead_history(tmp_path, now=NOW)
    assert len(result.leads) == 1


def test_rows_set_aside_while_reading_are_reported(tmp_path: Path):
    history = make_history()
    write_lead_history(history, tmp_path, "csv")
    text = (tmp_path / "touches.csv").read_text().splitlines()
    text[1] = text[1].replace("page_view", "fax_sent")
    (tmp_path / "touches.csv").write_text("\n".join(text) + "\n")
    result, set_aside = read_lead_history(tmp_path, now=NOW)
    assert [(s.table, s.reason, s.rows) for s in set_aside] == [
        ("touches", "unknown action value", 1)
    ]
    assert len(result.touches) == len(history.touches) - 1


def test_missing_table_stops_naming_the_files_looked_for(tmp_path: Path):
    write_lead_history(make_history(), tmp_path)
    (tmp_path / "touches.parquet").unlink()
    with pytest.raises(DataContractError) as caught:
        read_lead_history(tmp_path)
    assert caught.value.table == "touches"
    assert str(tmp_path / "touches.parquet") in str(caught.value)
    assert str(tmp_path / "touches.csv") in str(caught.value)


def test_unreadable_parquet_stops_naming_the_file(tmp_path: Path):
    path = tmp_path / "leads.parquet"
    path.write_text("lead_id,created_at\n1,2024-01-01\n")
    with pytest.raises(DataContractError, match=r"^leads: cannot read .*leads\.parquet: "):
        read_table(path)


def test_empty_csv_stops_naming_the_file(tmp_path: Path):
    path = tmp_path / "stage_changes.csv"
    path.write_text("")
    with pytest.raises(DataContractError, match=r"stage_changes\.csv: empty file$"):
        read_table(path)


def test_missing_file_and_unknown_suffix_stop_naming_the_file(tmp_path: Path):
    with pytest.raises(DataContractError, match=r"cannot read .*nowhere\.csv"):
        read_table(tmp_path / "nowhere.csv")
    with pytest.raises(DataContractError, match=r"leads\.xlsx: expected \.parquet or \.csv"):
        read_table(tmp_path / "leads.xlsx")


def test_unknown_write_format_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="unknown table format 'xlsx'"):
        write_lead_history(make_history(), tmp_path, "xlsx")


def test_simulation_is_written_with_truth_and_metadata(tmp_path: Path):
    history = make_history()
    truth = pd.DataFrame(
        {
            "lead_id": [1],
            "transition": ["mql_to_sql"],
            "decision_time": [pd.Timestamp("2024-01-02")],
            "true_probability": [0.3],
        }
    )
    metadata = {"seed": 7, "start": pd.Timestamp("2024-01-01"), "rates": {"mql_to_sql": 0.3}}
    write_simulation(Simulation(history, truth, metadata), tmp_path / "raw")
    out = tmp_path / "raw"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*(f"{t}.parquet" for t in TABLES), "truth.parquet", "simulation.json"]
    )
    pd.testing.assert_frame_equal(pd.read_parquet(out / "truth.parquet"), truth)
    assert json.loads((out / "simulation.json").read_text()) == {
        "seed": 7,
        "start": "2024-01-01 00:00:00",
        "rates": {"mql_to_sql": 0.3},
    }
    assert_same_history(read_lead_history(out, now=NOW)[0], history)
    pd.testing.assert_frame_equal(read_truth(out), truth)


def test_real_data_has_no_truth(tmp_path: Path):
    write_lead_history(make_history(), tmp_path)
    assert read_truth(tmp_path) is None


def test_training_set_and_manifest_round_trip(tmp_path: Path):
    frame = pd.DataFrame(
        {
            "lead_id": [1, 2],
            "decision_time": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "label": pd.array([True, False], dtype="boolean"),
            "pricing_page_views_30d": [3, 0],
        }
    )
    manifest = {"rows": 2, "data_end": pd.Timestamp("2024-06-01"), "features": ["x"]}
    write_training_set(
        SimpleNamespace(frame=frame, manifest=manifest), tmp_path / "f", "mql_to_sql"
    )
    read_frame, read_manifest = read_training_set(tmp_path / "f", "mql_to_sql")
    pd.testing.assert_frame_equal(read_frame, frame)
    assert read_manifest == {"rows": 2, "data_end": "2024-06-01 00:00:00", "features": ["x"]}


def test_reading_a_missing_training_set_stops_naming_the_file(tmp_path: Path):
    with pytest.raises(DataContractError, match=r"sql_to_won\.parquet"):
        read_training_set(tmp_path, "sql_to_won")
    write_training_set(SimpleNamespace(frame=pd.DataFrame({"a": [1]}), manifest={}), tmp_path, "x")
    (tmp_path / "x.manifest.json").unlink()
    with pytest.raises(DataContractError, match=r"x\.manifest\.json"):
        read_training_set(tmp_path, "x")
