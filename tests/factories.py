"""Small builders of valid lead history for tests, in the contract's dtypes.

Every builder returns a fresh, contract-valid frame; pass column values as keywords to change
them (a scalar for all rows or one value per row), e.g. ``make_leads(2, industry="staffing")``.
Timestamps are tz-naive UTC in 2024, so any ``now`` from 2025 on leaves them all in the past.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from core.contract import TABLES, dtype_of
from features.distributed.dataset import PARTITIONING_FILE
from features.history import LeadHistory

START = pd.Timestamp("2024-01-01")
NOW = pd.Timestamp("2025-01-01")


def typed(table: str, data: dict | pd.DataFrame) -> pd.DataFrame:
    """``data`` in the contract's column order and dtypes; absent columns are all-missing."""
    frame = pd.DataFrame(data)
    columns = {}
    for column in TABLES[table]:
        values = frame[column.name] if column.name in frame else pd.Series(None, index=frame.index)
        dtype = dtype_of(column)
        columns[column.name] = values.astype(dtype) if dtype is not None else values
    return pd.DataFrame(columns, index=frame.index)


def make_leads(n: int = 3, **columns: object) -> pd.DataFrame:
    """``n`` leads with ids 1..n, created a day apart from START, every attribute filled."""
    data = {
        "lead_id": list(range(1, n + 1)),
        "created_at": [START + pd.Timedelta(days=i) for i in range(n)],
        "source": "email",
        "lead_type": "hand_raiser",
        "lead_category": "plain",
        "industry": "software_saas",
        "company_size": 50,
        "annual_revenue": 5_000_000.0,
        "country": "DE",
        "job_level": "manager",
        "department": "marketing",
        "email_domain_type": "business",
        "has_phone": True,
    }
    data.update(columns)
    return typed("leads", pd.DataFrame(data, index=range(n)))


def make_touches(
    leads: pd.DataFrame | None = None, per_lead: int = 2, **columns: object
) -> pd.DataFrame:
    """``per_lead`` web page views per lead, one hour apart, starting an hour after creation."""
    leads = make_leads() if leads is None else leads
    rows = [
        (lead_id, created + pd.Timedelta(hours=k + 1))
        for lead_id, created in zip(leads["lead_id"], leads["created_at"], strict=True)
        for k in range(per_lead)
    ]
    data = {
        "lead_id": [r[0] for r in rows],
        "occurred_at": [r[1] for r in rows],
        "channel": "web",
        "action": "page_view",
        "page_type": "pricing",
        "duration_s": 30.0,
    }
    data.update(columns)
    return typed("touches", pd.DataFrame(data, index=range(len(rows))))


def make_stage_changes(
    leads: pd.DataFrame | None = None,
    stages: Sequence[str] = ("lead", "mql"),
    **columns: object,
) -> pd.DataFrame:
    """Each lead enters ``stages`` in order: the first at creation, then one day apart."""
    leads = make_leads() if leads is None else leads
    rows = [
        (lead_id, stage, created + pd.Timedelta(days=k))
        for lead_id, created in zip(leads["lead_id"], leads["created_at"], strict=True)
        for k, stage in enumerate(stages)
    ]
    data = {
        "lead_id": [r[0] for r in rows],
        "stage": [r[1] for r in rows],
        "changed_at": [r[2] for r in rows],
    }
    data.update(columns)
    return typed("stage_changes", pd.DataFrame(data, index=range(len(rows))))


def make_history(
    n: int = 3, touches_per_lead: int = 2, stages: Sequence[str] = ("lead", "mql")
) -> LeadHistory:
    """A valid ``LeadHistory`` of ``n`` leads, their touches and their stage changes."""
    leads = make_leads(n)
    return LeadHistory(
        leads, make_touches(leads, touches_per_lead), make_stage_changes(leads, stages)
    )


def partitioned_by_lead(history, folder: Path, parts: int = 3) -> Path:
    """``history`` written as a Parquet dataset partitioned by lead: ``parts`` files per table,
    the leads dealt out by id, and the marker that says so."""
    ids = history.leads["lead_id"].to_numpy()
    for k in range(parts):
        own = set(ids[k::parts])
        for table in ("leads", "touches", "stage_changes"):
            frame = getattr(history, table)
            (folder / table).mkdir(parents=True, exist_ok=True)
            frame[frame["lead_id"].isin(own)].to_parquet(
                folder / table / f"part-{k}.parquet", index=False
            )
    (folder / PARTITIONING_FILE).write_text(json.dumps({"by": "lead_id"}))
    return folder


def without_stages(history: LeadHistory, stages: Sequence[str]) -> LeadHistory:
    """``history`` with the stage changes into ``stages`` left out, as a CRM export of the
    marketing side only looks (e.g. HubSpot contacts without deals: no ``won``, no ``lost``)."""
    changes = history.stage_changes
    kept = changes[~changes["stage"].astype(str).isin(list(stages))].reset_index(drop=True)
    return LeadHistory(history.leads, history.touches, kept)
