"""Salesforce's activity objects of a lead history: Task (e-mails and calls, with tasks on
contacts that match no lead), Event (meetings) and Campaign with CampaignMember (webinar,
event, download, demo-request and e-mail-click responses, and members who never responded)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.exporting.common import iso_z, kind_mask, padded

# (campaign id, type, name) -> the touch kind its responses are
CAMPAIGNS = (
    (
        "701000000000001",
        "Webinar",
        "Webinar: pipeline reviews",
        ("webinar", "webinar_attend", "webinar"),
    ),
    ("701000000000002", "Trade Show", "Trade show: DMEXCO", ("event", "event_visit", None)),
    ("701000000000003", "Content", "Whitepaper: lead scoring", ("web", "download", "whitepaper")),
    ("701000000000004", "Content", "Case study: Acme GmbH", ("web", "download", "case_study")),
    ("701000000000005", "Demo Request", "Website demo request", ("web", "demo_request", "contact")),
    ("701000000000006", "Email", "Newsletter clicks", ("email", "email_click", None)),
)
TASKS = (("email", "email_sent", "Email"), ("sdr_call", "call_connected", "Call"))


def activity_tables(touches: pd.DataFrame, ids: pd.Series, rng: np.random.Generator) -> dict:
    """Object name -> table; ``ids``: the Salesforce id of each lead."""
    campaigns, members = _campaigns(touches, ids, rng)
    tasks = _tasks(touches, ids, rng)
    return {
        "Task": tasks,
        "Event": _events(touches, ids),
        "Campaign": campaigns,
        "CampaignMember": members,
    }


def _tasks(touches, ids, rng) -> pd.DataFrame:
    parts = []
    for channel, action, subtype in TASKS:
        rows = touches[kind_mask(touches, channel, action, None)]
        completed = iso_z(rows["occurred_at"])
        created = completed
        if subtype == "Call":
            created = iso_z(rows["occurred_at"] - pd.Timedelta(minutes=30))
        else:  # older e-mail tasks have no completion time: their creation time is it
            completed = np.where(rng.random(len(rows)) < 0.2, None, completed)
        parts.append(
            pd.DataFrame(
                {
                    "WhoId": ids.loc[rows["lead_id"]].to_numpy(),
                    "Subject": f"{subtype}: follow-up",
                    "Type": subtype,
                    "TaskSubtype": subtype,
                    "Status": "Completed",
                    "ActivityDate": (rows["occurred_at"] + pd.Timedelta(days=2))
                    .dt.strftime("%Y-%m-%d")
                    .to_numpy(),
                    "CreatedDate": created,
                    "CompletedDateTime": completed,
                    "CallDurationInSeconds": rows["duration_s"].round().astype("Int64").to_numpy()
                    if subtype == "Call"
                    else None,
                }
            )
        )
    tasks = pd.concat(parts, ignore_index=True)
    contacts = tasks.sample(frac=0.01, random_state=int(rng.integers(1 << 31))).assign(
        WhoId=lambda f: padded("003", np.arange(len(f)))
    )
    tasks = pd.concat([tasks, contacts], ignore_index=True)
    return tasks.assign(Id=padded("00T", np.arange(len(tasks))))[["Id", *tasks.columns]]


def _events(touches, ids) -> pd.DataFrame:
    rows = touches[kind_mask(touches, "sdr_call", "meeting_booked", None)]
    return pd.DataFrame(
        {
            "Id": padded("00U", np.arange(len(rows))),
            "WhoId": ids.loc[rows["lead_id"]].to_numpy(),
            "Subject": "Discovery meeting",
            "Type": "Meeting",
            "CreatedDate": iso_z(rows["occurred_at"]),
            "ActivityDateTime": iso_z(rows["occurred_at"] + pd.Timedelta(days=2)),
            "DurationInMinutes": 30,
        }
    )


def _campaigns(touches, ids, rng) -> tuple[pd.DataFrame, pd.DataFrame]:
    campaigns = pd.DataFrame([c[:3] for c in CAMPAIGNS], columns=["Id", "Type", "Name"])
    parts = []
    for campaign_id, kind, _, (channel, action, page) in CAMPAIGNS:
        rows = touches[kind_mask(touches, channel, action, page)]
        parts.append(
            pd.DataFrame(
                {
                    "LeadId": ids.loc[rows["lead_id"]].to_numpy(),
                    "CampaignId": campaign_id,
                    "Status": "Attended" if kind in ("Webinar", "Trade Show") else "Responded",
                    "HasResponded": "true",
                    "FirstRespondedDate": rows["occurred_at"].dt.strftime("%Y-%m-%d").to_numpy(),
                    "CreatedDate": iso_z(rows["occurred_at"]),
                }
            )
        )
    members = pd.concat(parts, ignore_index=True)
    sent = members.sample(frac=0.05, random_state=int(rng.integers(1 << 31))).assign(
        Status="Sent", HasResponded="false", FirstRespondedDate=None
    )
    members = pd.concat([members, sent], ignore_index=True)
    return campaigns, members.assign(Id=padded("00v", np.arange(len(members))))[
        ["Id", *members.columns]
    ]
