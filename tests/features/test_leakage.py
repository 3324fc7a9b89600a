"""No label leakage: what happens at or after a row's decision time never changes its features."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.contract import ACTIONS, CHANNELS, PAGE_TYPES
from features.build import build_training_sets
from features.history import LeadHistory
from tests.factories import typed
from tests.features.conftest import random_history

HISTORY = random_history(seed=5, n_leads=60)
DATA_END = pd.Timestamp("2026-01-01")


def _features(history: LeadHistory, transition: str) -> pd.DataFrame:
    sets = build_training_sets(history, horizon_days=90, data_end=DATA_END)
    return sets[transition].frame.drop(columns="label").set_index("lead_id")


BASELINE = {t: _features(HISTORY, t) for t in ("mql_to_sql", "sql_to_won")}

touch_edits = st.lists(
    st.tuples(
        st.integers(0, 10_000),  # which row of the transition's frame
        st.floats(0.0, 400.0),  # days at or after the decision time
        st.sampled_from(CHANNELS),
        st.sampled_from(ACTIONS),
        st.sampled_from([*PAGE_TYPES, None]),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=touch_edits, transition=st.sampled_from(["mql_to_sql", "sql_to_won"]))
def test_adding_touches_at_or_after_decision_time_changes_nothing(edits, transition):
    base = BASELINE[transition]
    new = []
    for row, days, channel, action, page in edits:
        lead_id = base.index[row % len(base)]
        at = base.loc[lead_id, "decision_time"] + pd.Timedelta(days=days)
        new.append((lead_id, at, channel, action, page, 600.0))
    extra = typed(
        "touches",
        pd.DataFrame(
            new, columns=["lead_id", "occurred_at", "channel", "action", "page_type", "duration_s"]
        ),
    )
    changed = LeadHistory(HISTORY.leads, pd.concat([HISTORY.touches, extra]), HISTORY.stage_changes)
    after = _features(changed, transition)
    pd.testing.assert_frame_equal(after.loc[base.index], base)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), transition=st.sampled_from(["mql_to_sql", "sql_to_won"]))
def test_removing_or_changing_later_touches_changes_nothing(seed, transition):
    base = BASELINE[transition]
    rng = np.random.default_rng(seed)
    touches = HISTORY.touches.copy()
    decision = base["decision_time"].reindex(touches["lead_id"]).to_numpy()
    later = np.flatnonzero(~(touches["occurred_at"].to_numpy() < decision))  # NaT (no row) included
    chosen = rng.choice(later, size=min(len(later), 30), replace=False)
    half = len(chosen) // 2
    touches.loc[touches.index[chosen[:half]], "channel"] = "sdr_call"
    touches.loc[touches.index[chosen[:half]], "action"] = "meeting_booked"
    touches.loc[touches.index[chosen[:half]], "occurred_at"] += pd.Timedelta(days=3)
    touches = touches.drop(index=touches.index[chosen[half:]])
    changed = LeadHistory(HISTORY.leads, touches, HISTORY.stage_changes)
    pd.testing.assert_frame_equal(_features(changed, transition).loc[base.index], base)


@settings(max_examples=30, deadline=None)
@given(
    row=st.integers(0, 10_000),
    stage=st.sampled_from(["sal", "sql", "won", "lost"]),
    days=st.floats(0.001, 80.0),
)
def test_stage_changes_after_decision_time_change_no_features(row, stage, days):
    base = BASELINE["sql_to_won"]
    lead_id = base.index[row % len(base)]
    at = base.loc[lead_id, "decision_time"] + pd.Timedelta(days=days)
    extra = typed(
        "stage_changes", pd.DataFrame({"lead_id": [lead_id], "stage": [stage], "changed_at": [at]})
    )
    changed = LeadHistory(HISTORY.leads, HISTORY.touches, pd.concat([HISTORY.stage_changes, extra]))
    features = _features(changed, "sql_to_won").drop(columns="decision_time")
    pd.testing.assert_frame_equal(
        features.loc[[lead_id]], base.drop(columns="decision_time").loc[[lead_id]]
    )


def test_the_same_touch_one_second_before_the_decision_does_change_features():
    """Control: the invariance tests above have power, the edits are visible when earlier."""
    base = BASELINE["mql_to_sql"]
    lead_id = base.index[0]
    at = base.loc[lead_id, "decision_time"] - pd.Timedelta(seconds=1)
    extra = typed(
        "touches",
        pd.DataFrame(
            {
                "lead_id": [lead_id],
                "occurred_at": [at],
                "channel": ["web"],
                "action": ["demo_request"],
            }
        ),
    )
    changed = LeadHistory(HISTORY.leads, pd.concat([HISTORY.touches, extra]), HISTORY.stage_changes)
    after = _features(changed, "mql_to_sql").loc[lead_id]
    assert after["demo_request_count_3d"] == base.loc[lead_id, "demo_request_count_3d"] + 1
    assert after["days_since_last_touch"] == 1 / 86_400
