"""Score inflation: does a threshold now pass more leads than sales was sized for?

Two thresholds route leads: the hand-set one (the hand-over to sales; judged for
``mql_to_sql`` only, since every SQL already passed it) and the API's "hot" tier of the model
(at least twice the training base rate). A threshold was set for a capacity: with
``capacity_per_week`` (leads sales can take a week) the week's leads above it may not exceed
that many; without it, the share above it may not exceed the share it passed on the model's
test data, the share the team sized sales for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

THRESHOLDS = {"mql_to_sql": ("hand_set", "model_hot"), "sql_to_won": ("model_hot",)}


def above(frame: pd.DataFrame, threshold: str, reference: Mapping[str, Any]) -> np.ndarray:
    """Which leads of ``frame`` cross ``threshold`` ("hand_set" or "model_hot")."""
    if threshold == "hand_set":
        return frame["passes_threshold"].to_numpy(dtype=bool)
    value = reference["thresholds"][threshold]["value"]
    return frame["probability"].to_numpy(dtype=np.float64) >= value


def weekly_shares(
    frame: pd.DataFrame,
    reference: Mapping[str, Any],
    transition: str,
    *,
    capacity_per_week: float | None,
) -> pd.DataFrame:
    """Per week and threshold: rows, above, share, capacity_share (the share sales can take:
    ``capacity_per_week`` over the week's leads, else the reference share), capacity_source
    ("sales capacity" or "test data") and reference_rows (the test rows that share was
    measured on; 0 for a sales capacity, which is exact)."""
    out = []
    for threshold in THRESHOLDS[transition]:
        crossing = above(frame, threshold, reference)
        reference_share = reference["thresholds"][threshold]["share"]
        reference_rows = reference["thresholds"][threshold]["rows"]
        for week, at in frame.groupby("week", sort=True).indices.items():
            rows, count = len(at), int(crossing[at].sum())
            if capacity_per_week is not None:
                capacity_share, source = min(1.0, capacity_per_week / rows), "sales capacity"
                measured_on = 0
            else:
                capacity_share, source = reference_share, "test data"
                measured_on = reference_rows
            out.append(
                {
                    "week": week,
                    "threshold": threshold,
                    "rows": rows,
                    "above": count,
                    "share": count / rows,
                    "capacity_share": capacity_share,
                    "capacity_source": source,
                    "reference_rows": measured_on,
                }
            )
    columns = [
        "week",
        "threshold",
        "rows",
        "above",
        "share",
        "capacity_share",
        "capacity_source",
        "reference_rows",
    ]
    return pd.DataFrame(out, columns=columns).sort_values(["week", "threshold"], ignore_index=True)
