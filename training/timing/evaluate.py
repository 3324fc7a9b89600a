"""Judging horizon probabilities: Brier score per horizon on the rows whose outcome at that
horizon is known (converted by then, or watched at least that long), for the hazard model, the
oracle and the fixed-horizon classifier alike, on the same rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def known_within(
    converted_days: np.ndarray, observed_days: np.ndarray, days: float
) -> tuple[np.ndarray, np.ndarray]:
    """(whether the outcome within ``days`` is known, whether it converted within ``days``)."""
    converted = np.asarray(converted_days, dtype=np.float64)
    hit = ~np.isnan(converted) & (converted <= days)
    return hit | (np.asarray(observed_days) >= days), hit


def brier_by_horizon(
    probabilities: Mapping[str, np.ndarray],
    converted_days: np.ndarray,
    observed_days: np.ndarray,
    horizons_days: Sequence[int],
) -> dict[str, dict[str, float | int]]:
    """``{"90": {"hazard": 0.11, "oracle": 0.10, ..., "rows": n, "rate": r}}`` per horizon.

    ``probabilities`` maps a name to rows x horizons (NaN where that scorer has no answer at a
    horizon, as a fixed-horizon classifier beyond its own); every scorer is judged on the same
    rows of a horizon: those whose outcome is known there.
    """
    out: dict[str, dict[str, float | int]] = {}
    for j, days in enumerate(horizons_days):
        known, hit = known_within(converted_days, observed_days, days)
        entry: dict[str, float | int] = {"rows": int(known.sum())}
        if known.any():
            y = hit[known].astype(np.float64)
            entry["rate"] = float(y.mean())
            for name, p in probabilities.items():
                column = np.asarray(p, dtype=np.float64)[known, j]
                if not np.isnan(column).any():
                    entry[name] = float(np.mean((column - y) ** 2))
        out[str(days)] = entry
    return out
