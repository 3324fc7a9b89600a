"""The committed exports (small, written by hand as the CRMs write them, problems included)
import to exactly the rows a reader of the files expects, and the report says what was left
out and why."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.importing.parse import load_mapping
from features.importing.report import ImportReport
from features.importing.run import import_export
from tests.features.importing.conftest import FIXTURES, imported


@pytest.fixture(scope="module")
def salesforce(tmp_path_factory: pytest.TempPathFactory) -> tuple[ImportReport, Path]:
    out = tmp_path_factory.mktemp("salesforce")
    return import_export(FIXTURES / "salesforce", load_mapping("salesforce"), out), out


def block(report: ImportReport, table: str, source: str):
    return next(t for t in report.blocks if t.table == table and t.source == source)


def test_salesforce_leads_are_mapped_field_by_field(salesforce) -> None:
    _, out = salesforce
    leads = imported(out).leads.set_index("lead_id")
    assert len(leads) == 7  # Hugo's CreatedDate is "not a date"
    anna = leads.loc["00Q5g00000A1aaaEAA"]
    assert anna["created_at"] == pd.Timestamp("2024-03-01 09:00")
    assert (anna["source"], anna["lead_type"], anna["industry"]) == (
        "organic_search",
        "hand_raiser",
        "software_saas",
    )
    assert (anna["company_size"], anna["email_domain_type"], anna["has_phone"]) == (
        120,
        "business",
        True,
    )
    ben = leads.loc["00Q5g00000A1bbbEAA"]
    assert (ben["source"], ben["industry"], ben["email_domain_type"]) == (
        "event",
        "financial_services",
        "free",
    )
    assert not ben["has_phone"] and pd.isna(ben["annual_revenue"])
    clara = leads.loc["00Q5g00000A1cccEAA"]
    assert clara["source"] == "unknown" and clara["lead_type"] == "informational"
    assert pd.isna(clara["industry"])  # Agriculture: not in the preset's map
    assert pd.isna(leads.loc["00Q5g00000A1dddEAA", "company_size"])  # "about 50"


def test_salesforce_stage_changes_come_from_status_history_and_opportunities(salesforce) -> None:
    report, out = salesforce
    stages = imported(out).stage_changes
    entries = {(r.lead_id[-6:-3], r.stage) for r in stages.itertuples()}
    assert {("aaa", s) for s in ("lead", "mql", "sal", "sql", "won")} <= entries
    assert {("bbb", "sal"), ("ccc", "lost"), ("ggg", "sql"), ("ggg", "lost")} <= entries
    assert len(stages) == 17
    won = stages[stages["stage"] == "won"]
    assert won["changed_at"].tolist() == [pd.Timestamp("2024-04-15 12:00")]
    assert report.stages == {"lead": 7, "mql": 3, "sal": 2, "sql": 2, "won": 1, "lost": 2}


def test_salesforce_touches_take_the_completion_time_not_the_due_date(salesforce) -> None:
    _, out = salesforce
    touches = imported(out).touches
    assert len(touches) == 9
    call = touches[(touches["action"] == "call_connected") & (touches["duration_s"] == 420)]
    assert call["occurred_at"].tolist() == [pd.Timestamp("2024-03-11 14:30")]
    fallback = touches[touches["lead_id"] == "00Q5g00000A1bbbEAA"]
    assert pd.Timestamp("2024-03-03 08:00") in set(fallback["occurred_at"])  # no completion
    kinds = set(zip(touches["channel"].astype(str), touches["action"].astype(str), strict=True))
    assert {("webinar", "webinar_attend"), ("event", "event_visit"), ("web", "download")} <= kinds


def test_salesforce_report_counts_every_row_left_out_with_an_example(salesforce) -> None:
    report, _ = salesforce
    task = block(report, "touches", "Task")
    assert (task.rows_in, task.rows_out) == (8, 4)
    assert task.skipped["lead_id not in leads (Task.WhoId)"] == [2, "row 3: '0035g00000C1aaaAAA'"]
    assert task.skipped["unreadable occurred_at (Task.CompletedDateTime, CreatedDate)"][0] == 1
    history = block(report, "stage_changes", "LeadHistory")
    assert history.skipped["unknown stage value (LeadHistory.NewValue)"] == [
        1,
        "row 6: 'Recontacted'",
    ]
    assert history.left_out["stage mapped to nothing (LeadHistory.NewValue)"] == 1  # Nurturing
    opportunities = block(report, "stage_changes", "OpportunityHistory")
    reason = "OpportunityId matches no Lead.ConvertedOpportunityId (OpportunityHistory)"
    assert opportunities.skipped[reason] == [1, "row 4: '0065g00000B1xxxAAA'"]
    leads = block(report, "leads", "Lead")
    assert leads.skipped["unreadable created_at (Lead.CreatedDate)"] == [1, "row 7: 'not a date'"]
    assert (
        leads.set_missing["unreadable company_size set to missing (Lead.NumberOfEmployees)"][0] == 1
    )
    text = report.text()
    assert "skipped 2: lead_id not in leads (Task.WhoId) (e.g. row 3: '0035g00000C1aaaAAA')" in text
    assert report.tables["touches"] == {
        "rows": 9,
        "first": "2024-03-01 09:05:00",
        "last": "2024-03-16 09:00:00",
    }


def test_hubspot_labelled_export_splits_deal_contacts_and_keeps_won_over_lost(
    tmp_path: Path,
) -> None:
    report = import_export(FIXTURES / "hubspot_labels", load_mapping("hubspot"), tmp_path)
    history = imported(tmp_path)
    assert sorted(history.leads["lead_id"]) == [101, 102, 103, 104]
    stages = {(r.lead_id, r.stage) for r in history.stage_changes.itertuples()}
    assert {(101, "won"), (102, "won")} <= stages  # one deal, "101;102"
    assert (102, "lost") not in stages  # its other deal was lost: the lead is won
    assert report.stage_fixes["lost dropped: the lead was also won (another deal)"] == 1
    sizes = history.leads.set_index("lead_id")["company_size"]
    assert (sizes[101], sizes[102]) == (38, 2000)  # "25-50", "1000+"
    meetings = history.touches[history.touches["action"] == "meeting_booked"]
    assert sorted(meetings["channel"].astype(str)) == ["sdr_call", "web"]
    assert meetings["occurred_at"].min() == pd.Timestamp("2024-02-15 10:00")  # booked
    emails = block(report, "touches", "emails")
    assert emails.skipped["lead_id not in leads (emails.contact_id, Contact ID)"][0] == 1


def test_fivetran_csv_sync_reads_lifecycle_history_and_joined_engagements(tmp_path: Path) -> None:
    report = import_export(FIXTURES / "fivetran", load_mapping("fivetran"), tmp_path)
    history = imported(tmp_path)
    assert sorted(history.leads["lead_id"]) == [201, 202, 203]  # 204 was deleted
    stages = history.stage_changes.set_index(["lead_id", "stage"])["changed_at"]
    assert stages[(201, "mql")] == pd.Timestamp("2024-01-20 12:00")
    assert stages[(201, "won")] == pd.Timestamp("2024-03-15 15:00")
    touches = history.touches
    call = touches[touches["action"] == "call_connected"]
    assert call["duration_s"].tolist() == [300.0]
    assert touches.loc[touches["action"] == "meeting_booked", "occurred_at"].tolist() == [
        pd.Timestamp("2024-01-28 09:00")  # booked, not held
    ]
    assert len(touches[touches["channel"] == "email"]) == 4  # DELIVERED is no touch
    contact = block(report, "leads", "contact")
    assert contact.left_out["not selected (where _fivetran_deleted in ['false'])"] == 1
