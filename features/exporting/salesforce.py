"""A Salesforce data export of a lead history: one CSV per object, as Setup > Data Export
writes them (18-character-style ids, ``2024-01-05T10:00:00.000Z`` times, picklist words).

Lead holds the leads with the fields a real org has, leaky ones included (Status, IsConverted,
ConvertedDate, Rating); LeadHistory the Status changes (mql, sal, sql, lost before SQL) among
other tracked fields; Opportunity and OpportunityHistory the SQL's deal to won or lost; the
activity objects are ``salesforce_activity``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.exporting.common import (
    carried_history,
    inverse,
    iso_z,
    kind_mask,
    padded,
    write_tables,
)
from features.exporting.salesforce_activity import CAMPAIGNS, TASKS, activity_tables
from features.history import LeadHistory

SOURCES = {
    "organic_search": "Organic Search",
    "paid_search": "Paid Search",
    "linkedin": "LinkedIn",
    "email": "Email",
    "referral": "Employee Referral",
    "podcast": "Podcast",
    "event": "Trade Show",
    "partner": "Partner Referral",
    "direct": "Direct",
    "unknown": "Other",
}
INDUSTRIES = {
    "higher_education": "Education",
    "b2b_services": "Consulting",
    "software_saas": "Technology",
    "financial_services": "Finance",
    "b2b_ecommerce": "E-Commerce",
    "media_publishing": "Media",
    "commercial_real_estate": "Real Estate",
    "staffing": "Staffing",
    "shipping_logistics": "Shipping",
    "manufacturing": "Manufacturing",
}
STATUS = {
    "lead": "Open - Not Contacted",
    "mql": "Marketing Qualified",
    "sal": "Working - Contacted",
    "sql": "Closed - Converted",
    "lost": "Closed - Not Converted",
}


def lead_ids(ids: pd.Series) -> np.ndarray:
    return padded("00Q", ids)


def write_salesforce(history: LeadHistory, folder: Path, *, seed: int = 0) -> Path:
    """The export's CSV files in ``folder`` (created if needed)."""
    rng = np.random.default_rng(seed)
    leads, touches, stages = history.leads, history.touches, history.stage_changes
    ids = pd.Series(lead_ids(leads["lead_id"]), index=leads["lead_id"].to_numpy())
    tables = {"Lead": _leads(leads, stages, ids, rng)}
    tables["LeadHistory"] = _lead_history(stages, ids, rng)
    tables["Opportunity"], tables["OpportunityHistory"] = _opportunities(stages, ids)
    tables |= activity_tables(touches, ids, rng)
    return write_tables(tables, folder)


def carried(history: LeadHistory) -> LeadHistory:
    """What a Salesforce export carries of ``history`` (what the preset must give back): every
    lead field but a has_phone of unknown (no Phone means False), every stage entry, and the
    touches of the tasks, events and campaign responses (call durations only)."""
    touches = history.touches
    mask = np.zeros(len(touches), dtype=bool)
    for channel, action, _ in TASKS:
        mask |= kind_mask(touches, channel, action, None)
    mask |= kind_mask(touches, "sdr_call", "meeting_booked", None)
    for *_, (channel, action, page) in CAMPAIGNS:
        mask |= kind_mask(touches, channel, action, page)
    calls = kind_mask(touches, "sdr_call", "call_connected", None)
    phone = history.leads["has_phone"].fillna(False).astype("boolean")
    stages = np.ones(len(history.stage_changes), dtype=bool)
    return carried_history(history, mask, stages, {"has_phone": phone}, calls)


def _leads(leads, stages, ids, rng) -> pd.DataFrame:
    n = len(leads)
    number = leads["lead_id"].astype(str).to_numpy()
    free = (leads["email_domain_type"] == "free").to_numpy(dtype=bool)
    email = np.where(
        free,
        np.char.add(np.char.add("lead", number), "@gmail.com"),
        np.char.add(np.char.add("lead", number), "@example-company.com"),
    )
    email = np.where(leads["email_domain_type"].isna().to_numpy(), None, email)
    last = (
        stages.sort_values("changed_at", kind="stable")
        .groupby("lead_id", observed=True)["stage"]
        .last()
    )
    reached = stages.groupby("lead_id", observed=True)["stage"].agg(lambda s: set(s.astype(str)))
    sql_at = stages[stages["stage"] == "sql"].set_index("lead_id")["changed_at"]
    is_sql = leads["lead_id"].isin(sql_at.index).to_numpy()
    last_stage = leads["lead_id"].map(last).astype(object)
    status = last_stage.map(lambda s: STATUS.get("sql" if s == "won" else s, STATUS["lead"]))
    status = np.where(is_sql, STATUS["sql"], status)
    won = (
        leads["lead_id"]
        .map(reached)
        .map(lambda s: isinstance(s, set) and "won" in s)
        .to_numpy(dtype=bool)
    )
    rating = np.where(
        won, "Hot", np.where(is_sql, "Warm", rng.choice(["Cold", "Warm", ""], n, p=[0.5, 0.2, 0.3]))
    )
    converted_date = leads["lead_id"].map(sql_at).dt.strftime("%Y-%m-%d")
    return pd.DataFrame(
        {
            "Id": ids.to_numpy(),
            "FirstName": "Lead",
            "LastName": number,
            "Company": np.char.add("Company ", number),
            "Email": email,
            "Phone": np.where(
                leads["has_phone"].fillna(False).to_numpy(dtype=bool),
                np.char.add("+49 30 5550", number),
                None,
            ),
            "CreatedDate": iso_z(leads["created_at"]),
            "LeadSource": inverse(SOURCES, leads["source"]),
            "Lead_Type__c": leads["lead_type"].astype(object).to_numpy(),
            "Lead_Category__c": leads["lead_category"].astype(object).to_numpy(),
            "Industry": inverse(INDUSTRIES, leads["industry"]),
            "NumberOfEmployees": leads["company_size"].astype("Int64"),
            "AnnualRevenue": leads["annual_revenue"],
            "Country": leads["country"].astype(object).to_numpy(),
            "Job_Level__c": leads["job_level"].astype(object).to_numpy(),
            "Department__c": leads["department"].astype(object).to_numpy(),
            "Status": status,
            "Rating": rating,
            "IsConverted": np.where(is_sql, "true", "false"),
            "ConvertedDate": converted_date.to_numpy(dtype=object),
            "ConvertedOpportunityId": np.where(is_sql, padded("006", leads["lead_id"]), None),
            "IsUnreadByOwner": "false",
        }
    )


def _lead_history(stages, ids, rng) -> pd.DataFrame:
    ordered = stages.sort_values(["lead_id", "changed_at"], kind="stable")
    sql_leads = set(ordered.loc[ordered["stage"] == "sql", "lead_id"])
    tracked = ordered["stage"].isin(["mql", "sal", "sql", "lost"]).to_numpy(copy=True)
    tracked &= ~((ordered["stage"] == "lost") & ordered["lead_id"].isin(sql_leads)).to_numpy()
    previous = ordered["stage"].astype(object).groupby(ordered["lead_id"].to_numpy()).shift(1)
    rows = ordered[tracked]
    status = pd.DataFrame(
        {
            "LeadId": ids.loc[rows["lead_id"]].to_numpy(),
            "Field": "Status",
            "OldValue": previous[tracked].map(lambda s: STATUS.get(s, STATUS["lead"])).to_numpy(),
            "NewValue": rows["stage"].astype(object).map(STATUS).to_numpy(),
            "CreatedDate": iso_z(rows["changed_at"]),
        }
    )
    rated = ordered[ordered["stage"] == "lead"].sample(
        frac=0.1, random_state=int(rng.integers(1 << 31))
    )
    rating = pd.DataFrame(
        {
            "LeadId": ids.loc[rated["lead_id"]].to_numpy(),
            "Field": "Rating",
            "OldValue": None,
            "NewValue": "Warm",
            "CreatedDate": iso_z(rated["changed_at"] + pd.Timedelta(days=3)),
        }
    )
    history = pd.concat([status, rating], ignore_index=True)
    return history.assign(Id=padded("017", np.arange(len(history))))[["Id", *history.columns]]


def _opportunities(stages, ids) -> tuple[pd.DataFrame, pd.DataFrame]:
    sql = stages[stages["stage"] == "sql"].set_index("lead_id")["changed_at"]
    closed = stages[stages["stage"].isin(["won", "lost"]) & stages["lead_id"].isin(sql.index)]
    closed = closed.set_index("lead_id")
    opportunity = padded("006", sql.index.to_numpy())
    stage_now = (
        pd.Series(sql.index)
        .map(closed["stage"].astype(object))
        .map({"won": "Closed Won", "lost": "Closed Lost"})
        .fillna("Qualification")
    )
    opportunities = pd.DataFrame(
        {
            "Id": opportunity,
            "Name": np.char.add("Deal ", sql.index.astype(str)),
            "StageName": stage_now.to_numpy(),
            "IsWon": (stage_now == "Closed Won").map({True: "true", False: "false"}).to_numpy(),
            "IsClosed": stage_now.str.startswith("Closed")
            .map({True: "true", False: "false"})
            .to_numpy(),
            "CreatedDate": iso_z(sql),
            "CloseDate": pd.Series(sql.index)
            .map(closed["changed_at"])
            .dt.strftime("%Y-%m-%d")
            .to_numpy(dtype=object),
        }
    )
    opened = pd.DataFrame(
        {"OpportunityId": opportunity, "StageName": "Qualification", "CreatedDate": iso_z(sql)}
    )
    closes = pd.DataFrame(
        {
            "OpportunityId": padded("006", closed.index.to_numpy()),
            "StageName": closed["stage"]
            .astype(object)
            .map({"won": "Closed Won", "lost": "Closed Lost"})
            .to_numpy(),
            "CreatedDate": iso_z(closed["changed_at"]),
        }
    )
    history = pd.concat([opened, closes], ignore_index=True)
    return opportunities, history.assign(Id=padded("008", np.arange(len(history))))[
        ["Id", *history.columns]
    ]
