"""Population stability: how far a week's scored leads have moved from the training data.

PSI = sum over bins of (actual - expected) * ln(actual / expected), with the bins of the
reference (``training.profile``). The usual bands: below 0.1 stable, 0.1 to 0.25 watch, above
0.25 act. Each bin's share is smoothed by half a lead (``(count + 0.5) / (rows + bins / 2)``),
so a bin empty on one side gives a large but finite value, and a week of few leads is not
called drifted on noise alone: weeks under ``MIN_WEEK_ROWS`` leads are shown but not judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from training.profile import bin_counts

STABLE, ACT = 0.1, 0.25
MIN_WEEK_ROWS = 100
SCORE_COLUMNS = ("probability", "hand_set_points")


def psi(expected: Sequence[int], actual: Sequence[int]) -> float:
    """PSI of ``actual`` bin counts against ``expected`` ones (same bins, same order)."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape:
        raise ValueError(f"{a.size} bins against {e.size} in the reference")
    e = (e + 0.5) / (e.sum() + 0.5 * e.size)
    a = (a + 0.5) / (a.sum() + 0.5 * a.size)
    return float(np.sum((a - e) * np.log(a / e)))


def band(value: float) -> str:
    """ "stable", "watch" or "act" for a PSI value."""
    if value > ACT:
        return "act"
    return "watch" if value >= STABLE else "stable"


def watched_columns(reference: Mapping[str, Any], frame: pd.DataFrame) -> dict[str, dict]:
    """Each column to judge and its reference bins: the scores, then the features the
    reference profiles that were recorded (a feature never recorded is not judged)."""
    columns = {name: reference["scores"][name] for name in SCORE_COLUMNS}
    for name, spec in reference["features"].items():
        if name in frame.columns:
            columns[name] = spec
    return columns


def weekly_psi(frame: pd.DataFrame, reference: Mapping[str, Any]) -> pd.DataFrame:
    """PSI of every watched column in every week of ``frame`` (a ``Population.frame``):
    week, column, kind ("score" or "feature"), rows, psi, band, judged (enough rows), and
    bins and reference_rows (what chance alone would give, ``alarms.psi_alarms`` says)."""
    columns = watched_columns(reference, frame)
    rows = []
    for week, leads in frame.groupby("week", sort=True):
        for name, spec in columns.items():
            value = psi(spec["counts"], bin_counts(spec, leads[name].to_numpy()))
            rows.append(
                {
                    "week": week,
                    "column": name,
                    "kind": "score" if name in SCORE_COLUMNS else "feature",
                    "rows": len(leads),
                    "psi": value,
                    "band": band(value),
                    "judged": len(leads) >= MIN_WEEK_ROWS,
                    "bins": len(spec["counts"]),
                    "reference_rows": int(sum(spec["counts"])),
                }
            )
    columns = ["week", "column", "kind", "rows", "psi", "band", "judged", "bins"]
    return pd.DataFrame(rows, columns=[*columns, "reference_rows"])


def not_recorded(reference: Mapping[str, Any], frame: pd.DataFrame) -> list[str]:
    """Features the reference profiles but no scored lead recorded (another model's list)."""
    return [name for name in reference["features"] if name not in frame.columns]
