"""A Fivetran-style warehouse sync of HubSpot: the connector's tables (``contact`` with
``property_*`` columns, ``contact_property_history``, ``deal``, ``deal_stage``, ``deal_contact``,
``engagement`` with its ``engagement_contact``, ``engagement_call`` and ``engagement_meeting``,
``email_event``, ``contact_form_submission``) as Parquet files, or as tables of a DuckDB file
(schema ``hubspot``). Times are typed timestamps; a few rows are what a sync also holds:
deleted contacts, other properties' history, notes, delivery events.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.paths import output_folder, writing
from features.exporting.common import inverse, kind_mask
from features.exporting.hubspot import (
    INDUSTRIES,
    LIFECYCLE,
    SOURCES,
    size_range,
)
from features.exporting.hubspot import (
    carried as hubspot_carried,
)
from features.exporting.hubspot_activity import FORMS
from features.history import LeadHistory

EMAIL_TYPES = {
    "email_sent": "SENT",
    "email_open": "OPEN",
    "email_click": "CLICK",
    "unsubscribe": "UNSUBSCRIBED",
}
SYNCED = pd.Timestamp("2026-01-01")


def write_fivetran(
    history: LeadHistory, folder: Path, *, as_duckdb: bool = False, seed: int = 0
) -> Path:
    """The sync's tables as Parquet files in ``folder``, or (``as_duckdb``) as tables of
    ``folder/warehouse.duckdb``; returns what to import (the folder or the DuckDB file)."""
    rng = np.random.default_rng(seed)
    leads, touches, stages = history.leads, history.touches, history.stage_changes
    email = _emails(leads)
    tables = {
        "contact": _contacts(leads, stages, email, rng),
        "contact_property_history": _history(stages, rng),
    }
    tables |= _deals(stages)
    tables |= _engagements(touches, rng)
    tables["email_event"] = _email_events(touches, email, rng)
    tables["contact_form_submission"] = pd.concat(
        [
            _rows(
                touches[kind_mask(touches, *kind)],
                title=title,
                page_url="https://www.example.com/forms",
            )
            for kind, title in FORMS
        ],
        ignore_index=True,
    )
    folder = output_folder(folder)
    if as_duckdb:
        import duckdb

        path = folder / "warehouse.duckdb"
        with writing(path):
            connection = duckdb.connect(str(path))
            connection.execute("create schema if not exists hubspot")
            for name, frame in tables.items():
                connection.register("frame", frame)
                connection.execute(f"create or replace table hubspot.{name} as select * from frame")
                connection.unregister("frame")
            connection.close()
        return path
    for name, frame in tables.items():
        with writing(folder / f"{name}.parquet"):
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def carried(history: LeadHistory) -> LeadHistory:
    """What the sync carries: as HubSpot's export (``features.exporting.hubspot.carried``)
    without page views, and e-mail events only of contacts with an e-mail address."""
    view = hubspot_carried(history)
    touches = view.touches
    emailed = history.leads.loc[history.leads["email_domain_type"].notna(), "lead_id"]
    keep = (touches["action"] != "page_view") & (
        (touches["channel"] != "email") | touches["lead_id"].isin(emailed)
    )
    kept = touches[keep.to_numpy()].reset_index(drop=True)
    kept["duration_s"] = kept["duration_s"].where(kept["action"] == "call_connected")
    return LeadHistory(view.leads, kept, view.stage_changes)


def _emails(leads: pd.DataFrame) -> pd.Series:
    """Each lead's e-mail address by lead id (missing where its domain type is unknown)."""
    number = leads["lead_id"].astype(str)
    domain = np.where(leads["email_domain_type"] == "free", "@gmail.com", "@example-company.com")
    address = ("contact" + number + domain).where(leads["email_domain_type"].notna())
    return pd.Series(address.to_numpy(dtype=object), index=leads["lead_id"].to_numpy())


def _stage_times(stages, stage) -> pd.Series:
    return (
        stages[stages["stage"] == stage]
        .drop_duplicates("lead_id")
        .set_index("lead_id")["changed_at"]
    )


def _contacts(leads, stages, email, rng) -> pd.DataFrame:
    ids = leads["lead_id"]
    entered = {stage: ids.map(_stage_times(stages, stage)) for stage in LIFECYCLE}
    current = pd.Series(None, index=ids.index, dtype=object)
    for stage in LIFECYCLE:
        current = current.where(entered[stage].isna(), LIFECYCLE[stage][0])
    frame = pd.DataFrame(
        {
            "id": ids.to_numpy(),
            "property_createdate": leads["created_at"].to_numpy(),
            "property_email": email.to_numpy(dtype=object),
            "property_phone": np.where(
                leads["has_phone"].fillna(False).to_numpy(dtype=bool),
                "+49 89 5550" + ids.astype(str),
                None,
            ),
            "property_hs_analytics_source": inverse(
                {k: v[0] for k, v in SOURCES.items()}, leads["source"]
            ),
            "property_lead_type": leads["lead_type"].astype(object).to_numpy(),
            "property_lead_category": leads["lead_category"].astype(object).to_numpy(),
            "property_industry": inverse(
                {k: v[0] for k, v in INDUSTRIES.items()}, leads["industry"]
            ),
            "property_num_employees": size_range(leads["company_size"])[0],
            "property_annualrevenue": leads["annual_revenue"].to_numpy(),
            "property_country": leads["country"].astype(object).to_numpy(),
            "property_job_level": leads["job_level"].astype(object).to_numpy(),
            "property_department": leads["department"].astype(object).to_numpy(),
            "property_lifecyclestage": current.to_numpy(),
            "property_num_associated_deals": entered["sql"].notna().astype(int).to_numpy(),
            "_fivetran_deleted": False,
            "_fivetran_synced": SYNCED,
        }
    )
    deleted = frame.sample(frac=0.01, random_state=int(rng.integers(1 << 31))).assign(
        id=lambda f: 10_000_000 + np.arange(len(f)), _fivetran_deleted=True, property_email=None
    )
    return pd.concat([frame, deleted], ignore_index=True)


def _history(stages, rng) -> pd.DataFrame:
    rows = stages[stages["stage"].isin(list(LIFECYCLE))]
    history = pd.DataFrame(
        {
            "contact_id": rows["lead_id"].to_numpy(),
            "name": "lifecyclestage",
            "value": rows["stage"]
            .astype(object)
            .map({k: v[0] for k, v in LIFECYCLE.items()})
            .to_numpy(),
            "timestamp": rows["changed_at"].to_numpy(),
            "source": "CRM_UI",
        }
    )
    other = history.sample(frac=0.2, random_state=int(rng.integers(1 << 31))).assign(
        name="hs_lead_status", value="IN_PROGRESS"
    )
    return pd.concat([history, other], ignore_index=True)


def _deals(stages) -> dict[str, pd.DataFrame]:
    sql = _stage_times(stages, "sql")
    lead = pd.Series(sql.index)
    won, lost = lead.map(_stage_times(stages, "won")), lead.map(_stage_times(stages, "lost"))
    deal_id = 9_000_000 + lead.to_numpy()
    deal = pd.DataFrame(
        {
            "deal_id": deal_id,
            "property_dealname": "Deal " + lead.astype(str),
            "property_dealstage": np.where(
                won.notna(),
                "closedwon",
                np.where(lost.notna(), "closedlost", "appointmentscheduled"),
            ),
            "property_createdate": sql.to_numpy(),
            "property_closedate": won.fillna(lost).to_numpy(),
        }
    )
    opened = pd.DataFrame(
        {"deal_id": deal_id, "value": "appointmentscheduled", "date_entered": sql.to_numpy()}
    )
    closes = [
        pd.DataFrame(
            {
                "deal_id": deal_id[when.notna().to_numpy()],
                "value": value,
                "date_entered": when.dropna().to_numpy(),
            }
        )
        for value, when in (("closedwon", won), ("closedlost", lost))
    ]
    return {
        "deal": deal,
        "deal_contact": pd.DataFrame({"deal_id": deal_id, "contact_id": lead.to_numpy()}),
        "deal_stage": pd.concat([opened, *closes], ignore_index=True),
    }


def _rows(rows: pd.DataFrame, **columns) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "contact_id": rows["lead_id"].to_numpy(),
            "timestamp": rows["occurred_at"].to_numpy(),
            **columns,
        }
    )


def _engagements(touches, rng) -> dict[str, pd.DataFrame]:
    calls = touches[kind_mask(touches, "sdr_call", "call_connected", None)]
    web = touches[kind_mask(touches, "web", "meeting_booked", "contact")]
    sdr = touches[kind_mask(touches, "sdr_call", "meeting_booked", None)]
    meetings = pd.concat([web.assign(source="MEETINGS_PUBLIC"), sdr.assign(source="CRM_UI")])
    notes = calls.sample(frac=0.1, random_state=int(rng.integers(1 << 31)))
    n_calls, n_meetings = len(calls), len(meetings)
    ids = np.arange(1, n_calls + n_meetings + len(notes) + 1) + 500_000
    engagement = pd.DataFrame(
        {
            "id": ids,
            "type": ["CALL"] * n_calls + ["MEETING"] * n_meetings + ["NOTE"] * len(notes),
            "timestamp": np.concatenate(
                [
                    calls["occurred_at"].to_numpy(),
                    (meetings["occurred_at"] + pd.Timedelta(days=2)).to_numpy(),
                    notes["occurred_at"].to_numpy(),
                ]
            ),
        }
    )
    contacts = np.concatenate(
        [calls["lead_id"].to_numpy(), meetings["lead_id"].to_numpy(), notes["lead_id"].to_numpy()]
    )
    return {
        "engagement": engagement,
        "engagement_contact": pd.DataFrame({"engagement_id": ids, "contact_id": contacts}),
        "engagement_call": pd.DataFrame(
            {
                "engagement_id": ids[:n_calls],
                "property_hs_call_duration": (calls["duration_s"] * 1000).round().to_numpy(),
                "property_hs_call_status": "COMPLETED",
            }
        ),
        "engagement_meeting": pd.DataFrame(
            {
                "engagement_id": ids[n_calls : n_calls + n_meetings],
                "property_hs_meeting_source": meetings["source"].to_numpy(),
                "property_hs_createdate": meetings["occurred_at"].to_numpy(),
            }
        ),
    }


def _email_events(touches, email, rng) -> pd.DataFrame:
    """Marketing e-mail events by recipient address (``email``: address by lead id), with the
    delivery events a sync also holds."""
    parts = []
    for action, kind in EMAIL_TYPES.items():
        rows = touches[kind_mask(touches, "email", action, None)]
        parts.append(
            pd.DataFrame(
                {
                    "type": kind,
                    "lead": rows["lead_id"].to_numpy(),
                    "created": rows["occurred_at"].to_numpy(),
                }
            )
        )
    events = pd.concat(parts, ignore_index=True)
    sent = events[events["type"] == "SENT"]
    delivered = sent.sample(frac=0.3, random_state=int(rng.integers(1 << 31))).assign(
        type="DELIVERED"
    )
    events = pd.concat([events, delivered], ignore_index=True)
    return pd.DataFrame(
        {
            "id": np.arange(len(events)) + 7_000_000,
            "type": events["type"].to_numpy(),
            "recipient": events["lead"].map(email).to_numpy(dtype=object),
            "created": events["created"].to_numpy(),
            "email_campaign_id": 42,
        }
    )
