"""A small simulated history for the round trips, and how to compare imported history with
what a format carries (both validated against the contract, rows in a stable order)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from features.history import LeadHistory
from features.io import read_lead_history
from features.simulate import simulate
from features.validate import validate_history

FIXTURES = Path(__file__).parent / "fixtures"
NOW = pd.Timestamp("2030-01-01")
ORDER = {
    "leads": ["lead_id"],
    "touches": ["lead_id", "occurred_at", "channel", "action", "page_type", "duration_s"],
    "stage_changes": ["lead_id", "changed_at", "stage"],
}


@pytest.fixture(scope="session")
def small_history() -> LeadHistory:
    """1,200 simulated leads: every touch kind and stage, fast to export and import."""
    return simulate(1_200, seed=11, start=datetime(2024, 1, 1), days=540).history


def imported(folder: Path) -> LeadHistory:
    """The imported folder as ``leadscore features`` reads it (nothing may be set aside)."""
    history, set_aside = read_lead_history(folder, now=NOW)
    assert not set_aside, [item.describe() for item in set_aside]
    return history


def assert_same_history(got: LeadHistory, expected: LeadHistory, ids: dict | None = None) -> None:
    """Exact equality of every table, column by column, after the contract's validation;
    ``ids`` maps the export's lead ids back to the simulator's."""
    expected, _ = validate_history(
        expected.leads, expected.touches, expected.stage_changes, now=NOW
    )
    for table, order in ORDER.items():
        mine, theirs = getattr(got, table).copy(), getattr(expected, table).copy()
        if ids is not None:
            mine["lead_id"] = mine["lead_id"].map(ids)
        mine = mine.sort_values(order, kind="stable").reset_index(drop=True)
        theirs = theirs.sort_values(order, kind="stable").reset_index(drop=True)
        assert len(mine) == len(theirs), table
        for column in theirs.columns:
            pd.testing.assert_series_equal(
                mine[column],
                theirs[column],
                check_dtype=False,
                check_categorical=False,
                obj=f"{table}.{column}",
            )
