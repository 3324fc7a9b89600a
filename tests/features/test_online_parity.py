"""Online scoring of one lead builds exactly the features the batch pipeline builds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import build_features
from features.online import features_at, lead_history_of


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if (not isinstance(v, str) and pd.isna(v)) else v) for k, v in row.items()}
        for row in frame.drop(columns="lead_id").to_dict("records")
    ]


@pytest.mark.parametrize("seed", range(5))
def test_online_features_equal_batch_features_for_random_leads(history, seed):
    rng = np.random.default_rng(seed)
    lead_ids = rng.choice(history.leads["lead_id"].to_numpy(), 10, replace=False)
    created = history.leads.set_index("lead_id").loc[lead_ids, "created_at"]
    as_of = (created + pd.to_timedelta(rng.uniform(0, 250, len(lead_ids)), unit="D")).to_numpy()
    batch = build_features(pd.DataFrame({"lead_id": lead_ids, "as_of": as_of}), history)
    for i, lead_id in enumerate(lead_ids):
        lead = history.leads[history.leads["lead_id"] == lead_id].iloc[0].to_dict()
        lead = {
            k: (None if (not isinstance(v, str) and pd.isna(v)) else v) for k, v in lead.items()
        }
        one = lead_history_of(
            lead,
            _records(history.touches[history.touches["lead_id"] == lead_id]),
            _records(history.stage_changes[history.stage_changes["lead_id"] == lead_id]),
        )
        online = features_at(one, lead_id, pd.Timestamp(as_of[i]).tz_localize("UTC"))
        pd.testing.assert_frame_equal(online, batch.iloc[[i]].reset_index(drop=True))


def test_a_history_cut_once_gives_the_same_features_and_points_as_the_full_history(history):
    """Serving cuts the history once per pass and shares it; nothing may change by that."""
    from features.window import visible_history
    from training.rules import default_rules_path, load_rules, score_leads

    rng = np.random.default_rng(9)
    lead_ids = rng.choice(history.leads["lead_id"].to_numpy(), 30, replace=False)
    created = history.leads.set_index("lead_id").loc[lead_ids, "created_at"]
    as_of = (created + pd.to_timedelta(rng.uniform(0, 250, len(lead_ids)), unit="D")).to_numpy()
    points = pd.DataFrame({"lead_id": lead_ids, "as_of": as_of})
    cut = visible_history(points, history)
    pd.testing.assert_frame_equal(build_features(points, cut), build_features(points, history))
    rules = load_rules(default_rules_path())
    pd.testing.assert_frame_equal(
        score_leads(rules, points, cut).points, score_leads(rules, points, history).points
    )
    with pytest.raises(ValueError, match="other decision points"):
        build_features(points.copy(), cut)


def _payloads(history, lead_ids, as_of) -> list[dict]:
    """Request-shaped records of ``lead_ids`` (as the API's schema hands them over: python
    ints, bools, text, datetimes, None), each to be scored at its ``as_of``."""
    leads = history.leads.set_index("lead_id", drop=False)
    out = []
    for lead_id, when in zip(lead_ids, as_of, strict=True):
        lead = {
            k: (None if (not isinstance(v, str) and pd.isna(v)) else v)
            for k, v in leads.loc[lead_id].items()
        }
        lead = {k: v.item() if hasattr(v, "item") else v for k, v in lead.items()}
        lead["created_at"] = lead["created_at"].floor("us").to_pydatetime()
        out.append(
            {
                "lead": lead,
                "touches": _records(history.touches[history.touches["lead_id"] == lead_id]),
                "stage_changes": _records(
                    history.stage_changes[history.stage_changes["lead_id"] == lead_id]
                ),
                "as_of": pd.Timestamp(when).floor("us").to_pydatetime(),
            }
        )
    return out


def test_request_records_cut_into_the_same_arrays_as_the_loaded_history(history):
    """The API's path (records -> arrays) and the batch path (tables -> cut) agree on every
    array and dtype, duplicate leads in one pass included (each row sees only its own)."""
    from features.build import feature_columns
    from features.online import lead_histories_of, visible_of
    from features.window import visible_history

    rng = np.random.default_rng(4)
    lead_ids = rng.choice(history.leads["lead_id"].to_numpy(), 25, replace=False)
    lead_ids = np.append(lead_ids, lead_ids[:3])  # the same lead twice, at other times
    created = history.leads.set_index("lead_id").loc[lead_ids, "created_at"]
    as_of = (created + pd.to_timedelta(rng.uniform(0, 250, len(lead_ids)), unit="D")).to_numpy()
    payloads = _payloads(history, lead_ids, as_of)
    for i, payload in enumerate(payloads):
        payload["lead"]["lead_id"] = i  # rows are positions, as the scorer passes them
    online = visible_of(payloads)
    loaded, points = lead_histories_of(payloads)
    batch = visible_history(points, loaded)

    np.testing.assert_array_equal(online.as_of_ns, batch.as_of_ns)
    for part in ("touches", "stages"):
        ours, theirs = getattr(online, part), getattr(batch, part)
        order = np.lexsort((theirs.age_ns, theirs.row))
        mine = np.lexsort((ours.age_ns, ours.row))
        for field in vars(theirs):
            np.testing.assert_array_equal(
                getattr(ours, field)[mine], getattr(theirs, field)[order], err_msg=field
            )
    assert online.leads.keys() == batch.leads.keys()
    for name, values in batch.leads.items():
        pd.testing.assert_series_equal(pd.Series(online.leads[name]), pd.Series(values), obj=name)
    reference = build_features(points, loaded)
    columns = feature_columns(online)
    pd.testing.assert_frame_equal(  # the frame casts counts to their declared int32
        pd.DataFrame({name: columns[name] for name in reference.columns}),
        reference,
        check_dtype=False,
    )
