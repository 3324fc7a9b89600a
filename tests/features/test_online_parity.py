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
