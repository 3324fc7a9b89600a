"""A small random lead history for pipeline tests: every vocabulary value, missing values,
events exactly at stage changes, and stage changes in legal order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.contract import ACTIONS, CHANNELS, PAGE_TYPES
from features.history import LeadHistory
from tests.factories import typed

START = pd.Timestamp("2024-01-01")


def random_history(seed: int, n_leads: int = 200, days: int = 400) -> LeadHistory:
    """Random but contract-valid history; a few touches sit exactly on stage-change times."""
    rng = np.random.default_rng(seed)
    lead_id = np.arange(1, n_leads + 1)
    created = START + pd.to_timedelta(rng.uniform(0, days * 0.6, n_leads), unit="D")
    leads = typed(
        "leads",
        {
            "lead_id": lead_id,
            "created_at": created,
            "source": rng.choice(["email", "direct", "linkedin", None], n_leads),
            "lead_type": rng.choice(["informational", "hand_raiser", "transactional"], n_leads),
            "lead_category": rng.choice(["plain", "bant", None], n_leads),
            "industry": rng.choice(["software_saas", "staffing", None], n_leads),
            "company_size": pd.array(
                np.where(rng.random(n_leads) < 0.2, None, rng.integers(1, 5000, n_leads)),
                dtype="Int64",
            ),
            "country": rng.choice(["DE", "AT", "CH", None], n_leads),
            "has_phone": pd.array(rng.choice([True, False, None], n_leads), dtype="boolean"),
        },
    )
    n_touches = rng.poisson(12, n_leads)
    owner = np.repeat(np.arange(n_leads), n_touches)
    offsets = rng.uniform(0, days * 0.5, len(owner))
    touches = typed(
        "touches",
        {
            "lead_id": lead_id[owner],
            "occurred_at": created[owner] + pd.to_timedelta(offsets, unit="D"),
            "channel": rng.choice(CHANNELS, len(owner)),
            "action": rng.choice(ACTIONS, len(owner)),
            "page_type": rng.choice([*PAGE_TYPES, None], len(owner)),
            "duration_s": np.where(
                rng.random(len(owner)) < 0.3, np.nan, rng.exponential(60, len(owner))
            ),
        },
    )
    stages = []
    for i in range(n_leads):
        t = created[i]
        stages.append((lead_id[i], "lead", t))
        if rng.random() < 0.6:
            t = t + pd.Timedelta(days=float(rng.uniform(0, days * 0.4)))
            stages.append((lead_id[i], "mql", t))
            if rng.random() < 0.5:
                t = t + pd.Timedelta(days=float(rng.uniform(0, 120)))
                stages.append((lead_id[i], "sql", t))
                stage = rng.choice(["won", "lost", None])
                if stage is not None:
                    stages.append(
                        (lead_id[i], stage, t + pd.Timedelta(days=float(rng.uniform(0, 120))))
                    )
            elif rng.random() < 0.5:
                stages.append(
                    (lead_id[i], "lost", t + pd.Timedelta(days=float(rng.uniform(1, 60))))
                )
    stage_frame = pd.DataFrame(stages, columns=["lead_id", "stage", "changed_at"])
    # touches exactly at the MQL time: the cut must leave them out
    at_mql = stage_frame[stage_frame["stage"] == "mql"].head(n_leads // 10)
    extra = typed(
        "touches",
        {
            "lead_id": at_mql["lead_id"].to_numpy(),
            "occurred_at": at_mql["changed_at"].to_numpy(),
            "channel": "web",
            "action": "page_view",
            "page_type": "pricing",
            "duration_s": 120.0,
        },
    )
    touches = pd.concat([touches, extra], ignore_index=True)
    return LeadHistory(leads, touches, typed("stage_changes", stage_frame))


@pytest.fixture(scope="session")
def history() -> LeadHistory:
    return random_history(seed=11)
