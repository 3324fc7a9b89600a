"""The vectorised build must equal a slow, obviously correct row-by-row reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import definitions as d
from features.build import build_features, build_training_sets
from features.window import WINDOWS

DAY = pd.Timedelta(days=1)


def _reference_row(history, lead_id, as_of) -> dict[str, float]:
    touches = history.touches[history.touches["lead_id"] == lead_id]
    seen = touches[touches["occurred_at"] < as_of]
    age = (as_of - seen["occurred_at"]) / DAY
    created = history.leads.set_index("lead_id").loc[lead_id, "created_at"]
    stages = history.stage_changes
    mql = stages[
        (stages["lead_id"] == lead_id) & (stages["stage"] == "mql") & (stages["changed_at"] < as_of)
    ]
    row = {
        "days_in_funnel": (as_of - created) / DAY,
        "days_since_mql": (as_of - mql["changed_at"].iloc[0]) / DAY if len(mql) else np.nan,
        "days_since_last_touch": age.min() if len(seen) else np.nan,
    }
    for window, days in WINDOWS.items():
        in_window = seen[age <= days] if days is not None else seen
        row[f"touches_{window}"] = len(in_window)
        for dim in d.TOUCH_DIMENSIONS:
            for value in dim.vocabulary:
                name = dim.count_name.format(value=value, window=window)
                row[name] = int((in_window[dim.column] == value).sum())
        if window in d.PAGE_SECONDS_WINDOWS:
            for page in d.PAGE_TYPES:
                hit = in_window[in_window["page_type"] == page]
                row[f"{page}_page_seconds_{window}"] = hit["duration_s"].fillna(0).sum()
    for dim in d.TOUCH_DIMENSIONS:
        for value in dim.vocabulary:
            hit = age[seen[dim.column] == value]
            row[dim.recency_name.format(value=value)] = hit.min() if len(hit) else np.nan
    return row


@pytest.mark.parametrize("seed", [1, 2])
def test_vectorised_features_equal_row_by_row_reference(history, seed):
    rng = np.random.default_rng(seed)
    lead_ids = rng.choice(history.leads["lead_id"].to_numpy(), 25, replace=False)
    created = history.leads.set_index("lead_id").loc[lead_ids, "created_at"]
    as_of = created + pd.to_timedelta(rng.uniform(0, 200, len(lead_ids)), unit="D")
    points = pd.DataFrame({"lead_id": lead_ids, "as_of": as_of.to_numpy()})
    built = build_features(points, history)
    for i, (lead_id, at) in enumerate(zip(points["lead_id"], points["as_of"], strict=True)):
        expected = _reference_row(history, lead_id, at)
        actual = built.iloc[i]
        for name, value in expected.items():
            assert np.isclose(actual[name], value, equal_nan=True), (lead_id, name)


def test_event_exactly_at_as_of_is_not_seen_one_nanosecond_earlier_is(history):
    touch = history.touches.iloc[0]
    lead_id, at = touch["lead_id"], touch["occurred_at"]
    points = pd.DataFrame(
        {"lead_id": [lead_id, lead_id], "as_of": [at, at + pd.Timedelta(1, "ns")]}
    )
    built = build_features(points, history)
    same_time = history.touches[
        (history.touches["lead_id"] == lead_id) & (history.touches["occurred_at"] == at)
    ]
    assert built.loc[1, "touches_all"] - built.loc[0, "touches_all"] == len(same_time)


def test_every_registry_feature_is_built_in_order(history):
    sets = build_training_sets(history, horizon_days=90)
    for transition, training_set in sets.items():
        frame = training_set.frame
        assert list(frame.columns[3:]) == list(d.FEATURE_NAMES), transition
        assert training_set.manifest["rows"] == len(frame) > 0
        assert {f["name"] for f in training_set.manifest["features"]} == set(d.FEATURE_NAMES)
        assert frame["decision_time"].is_monotonic_increasing


def test_partitions_of_whole_leads_give_the_same_rows_as_the_whole(history):
    """What Dask's map_partitions over lead_id partitions relies on."""
    sets = build_training_sets(history, horizon_days=90, data_end=pd.Timestamp("2025-06-01"))
    whole = sets["mql_to_sql"].frame.set_index("lead_id").sort_index()
    parts = []
    for part in (history.leads["lead_id"] % 3 == k for k in range(3)):
        ids = set(history.leads.loc[part, "lead_id"])
        sub = type(history)(
            history.leads[history.leads["lead_id"].isin(ids)],
            history.touches[history.touches["lead_id"].isin(ids)].sample(frac=1.0, random_state=0),
            history.stage_changes[history.stage_changes["lead_id"].isin(ids)],
        )
        parts.append(
            build_training_sets(sub, horizon_days=90, data_end=pd.Timestamp("2025-06-01"))[
                "mql_to_sql"
            ].frame
        )
    combined = pd.concat(parts).set_index("lead_id").sort_index()
    pd.testing.assert_frame_equal(combined, whole, check_categorical=False)
