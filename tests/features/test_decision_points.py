"""Decision points: who gets a training row, at which time, with which label."""

from __future__ import annotations

import pandas as pd

from features.decision_points import data_end_of, decision_points
from features.history import LeadHistory
from tests.factories import typed

T0 = pd.Timestamp("2024-01-01")


def _history(stages: list[tuple[int, str, str]]) -> LeadHistory:
    ids = sorted({s[0] for s in stages})
    leads = typed(
        "leads", {"lead_id": ids, "created_at": [T0] * len(ids), "lead_type": "informational"}
    )
    touches = typed("touches", {"lead_id": [], "occurred_at": [], "channel": [], "action": []})
    frame = pd.DataFrame(stages, columns=["lead_id", "stage", "changed_at"])
    frame["changed_at"] = pd.to_datetime(frame["changed_at"])
    return LeadHistory(leads, touches, typed("stage_changes", frame))


def _rows(history: LeadHistory, transition: str, end: str = "2025-01-01", horizon: int = 90):
    return decision_points(history, transition, horizon_days=horizon, data_end=pd.Timestamp(end))


def test_sql_within_horizon_is_positive_and_later_is_negative():
    history = _history(
        [
            (1, "mql", "2024-01-10"),
            (1, "sql", "2024-04-09"),  # 90 days: in
            (2, "mql", "2024-01-10"),
            (2, "sql", "2024-04-10"),  # 91 days: out
            (3, "mql", "2024-01-10"),
        ]
    )
    rows = _rows(history, "mql_to_sql").rows.set_index("lead_id")
    assert rows.loc[1, "label"] == 1
    assert rows.loc[2, "label"] == 0
    assert rows.loc[3, "label"] == 0
    assert rows.loc[1, "as_of"] == pd.Timestamp("2024-01-10")


def test_won_without_recorded_sql_counts_as_reaching_sql():
    history = _history([(1, "mql", "2024-01-10"), (1, "won", "2024-02-01")])
    assert _rows(history, "mql_to_sql").rows["label"].tolist() == [1]


def test_lost_is_never_a_conversion():
    history = _history(
        [(1, "mql", "2024-01-10"), (1, "sql", "2024-01-20"), (1, "lost", "2024-02-01")]
    )
    assert _rows(history, "mql_to_sql").rows["label"].tolist() == [1]
    assert _rows(history, "sql_to_won").rows["label"].tolist() == [0]


def test_leads_whose_horizon_has_not_elapsed_are_censored_and_counted():
    history = _history(
        [
            (1, "mql", "2024-01-10"),
            (2, "mql", "2024-12-01"),
            (2, "sql", "2024-12-05"),
            (3, "mql", "2024-11-01"),
        ]
    )
    points = _rows(history, "mql_to_sql", end="2024-12-31")
    assert points.rows["lead_id"].tolist() == [1]
    assert points.censored == 2
    assert points.censored_converted == 1


def test_leads_that_never_entered_the_stage_get_no_row():
    history = _history([(1, "lead", "2024-01-01"), (2, "mql", "2024-01-05")])
    assert _rows(history, "mql_to_sql").rows["lead_id"].tolist() == [2]
    assert _rows(history, "sql_to_won").rows.empty


def test_data_end_defaults_to_latest_event():
    history = _history([(1, "mql", "2024-01-10"), (1, "sql", "2024-03-01")])
    assert data_end_of(history) == pd.Timestamp("2024-03-01")
