"""Simulate -> export as Salesforce, HubSpot or a Fivetran sync -> import with the shipped
preset (or an edited copy) -> the same leads, touches and stage changes, exactly, where the
format carries them (``carried`` of each format says what that is)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.exporting import fivetran, hubspot, salesforce
from features.history import LeadHistory
from features.importing.parse import load_mapping, preset_text
from features.importing.run import import_export
from tests.features.importing.conftest import assert_same_history, imported


def round_trip(source: Path, fmt: str | Path, out: Path) -> LeadHistory:
    import_export(source, load_mapping(fmt), out)
    return imported(out)


def test_salesforce_export_round_trips(small_history: LeadHistory, tmp_path: Path) -> None:
    source = salesforce.write_salesforce(small_history, tmp_path / "export")
    got = round_trip(source, "salesforce", tmp_path / "imported")
    ids = dict(
        zip(
            salesforce.lead_ids(small_history.leads["lead_id"]),
            small_history.leads["lead_id"],
            strict=True,
        )
    )
    assert_same_history(got, salesforce.carried(small_history), ids)
    assert set(got.stage_changes["stage"].astype(str)) == {
        "lead",
        "mql",
        "sal",
        "sql",
        "won",
        "lost",
    }


def test_hubspot_export_with_internal_names_round_trips(
    small_history: LeadHistory, tmp_path: Path
) -> None:
    source = hubspot.write_hubspot(small_history, tmp_path / "export")
    got = round_trip(source, "hubspot", tmp_path / "imported")
    assert_same_history(got, hubspot.carried(small_history))


def test_hubspot_export_with_english_labels_round_trips(
    small_history: LeadHistory, tmp_path: Path
) -> None:
    source = hubspot.write_hubspot(small_history, tmp_path / "export", labels=True)
    assert "Record ID" in (next(source.glob("*contacts*")).read_text().splitlines()[0])
    got = round_trip(source, "hubspot", tmp_path / "imported")
    assert_same_history(got, hubspot.carried(small_history))


def test_fivetran_parquet_sync_round_trips(small_history: LeadHistory, tmp_path: Path) -> None:
    source = fivetran.write_fivetran(small_history, tmp_path / "export")
    got = round_trip(source, "fivetran", tmp_path / "imported")
    assert_same_history(got, fivetran.carried(small_history))


def test_fivetran_sync_in_a_duckdb_file_round_trips(
    small_history: LeadHistory, tmp_path: Path
) -> None:
    source = fivetran.write_fivetran(small_history, tmp_path / "export", as_duckdb=True)
    assert source.suffix == ".duckdb"
    got = round_trip(source, "fivetran", tmp_path / "imported")
    assert_same_history(got, fivetran.carried(small_history))


def test_an_edited_copy_of_a_preset_round_trips(small_history: LeadHistory, tmp_path: Path) -> None:
    """A user's org: the lead type field is called Lead_Kind__c and "Hot Prospect" is their
    MQL status. They copy the preset, change two lines, and import with the copy."""
    source = salesforce.write_salesforce(small_history, tmp_path / "export")
    lead = pd.read_csv(source / "Lead.csv", dtype=str, keep_default_na=False)
    lead.rename(columns={"Lead_Type__c": "Lead_Kind__c"}).to_csv(source / "Lead.csv", index=False)
    history = pd.read_csv(source / "LeadHistory.csv", dtype=str, keep_default_na=False)
    history["NewValue"] = history["NewValue"].replace("Marketing Qualified", "Hot Prospect")
    history.to_csv(source / "LeadHistory.csv", index=False)
    text = preset_text("salesforce").replace("Lead_Type__c", "Lead_Kind__c")
    text = text.replace("          MQL: mql\n", "          MQL: mql\n          Hot Prospect: mql\n")
    mapping = tmp_path / "my_salesforce.yaml"
    mapping.write_text(text)
    got = round_trip(source, mapping, tmp_path / "imported")
    ids = dict(
        zip(
            salesforce.lead_ids(small_history.leads["lead_id"]),
            small_history.leads["lead_id"],
            strict=True,
        )
    )
    assert_same_history(got, salesforce.carried(small_history), ids)
