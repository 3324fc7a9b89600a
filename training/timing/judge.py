"""A training run's judgement of its hazard model on the test rows: Brier per horizon against
the fixed-horizon classifier (at its own horizon) and, on simulated data, the oracle; and the
figure that shows it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from features.decision_points import follow_up
from features.history import LeadHistory
from features.simulate import true_within
from training.timing.evaluate import brier_by_horizon, known_within
from training.timing.figures import brier_figure
from training.timing.hazard import HazardModel
from training.timing.periods import within


def oracle_within(
    truth: pd.DataFrame | None, transition: str, lead_ids: np.ndarray, horizons: Sequence[int]
) -> np.ndarray | None:
    """The simulator's P(converting within each horizon) of these leads, or None when the truth
    file is missing or does not cover them."""
    if truth is None:
        return None
    own = truth[truth["transition"] == transition].set_index("lead_id")["true_probability"]
    p = own.reindex(lead_ids).to_numpy()
    if np.isnan(p).any():
        return None
    return np.column_stack([true_within(transition, p, h) for h in horizons])


def judge_on_test(
    timing: HazardModel,
    test: pd.DataFrame,
    inputs: Sequence[str],
    history: LeadHistory,
    transition: str,
    *,
    data_end: pd.Timestamp,
    classifier: np.ndarray,
    classifier_horizon: int,
    truth: pd.DataFrame | None = None,
) -> tuple[dict, Figure]:
    """Brier per horizon of the hazard model, the classifier (its probabilities ``classifier``
    answer ``classifier_horizon`` only) and the oracle on ``test`` (lead_id, decision_time,
    ``inputs``), followed up to ``data_end``; and the figure."""
    horizons = timing.horizons_days
    follow = follow_up(history, transition, data_end=data_end).set_index("lead_id")
    follow = follow.reindex(test["lead_id"].to_numpy())
    converted = follow["converted_days"].to_numpy()
    observed = follow["observed_days"].fillna(0).to_numpy()
    hazards = timing.hazards(timing.encode(test[list(inputs)]))
    p = within(hazards, horizons)
    fixed = np.full_like(p, np.nan)
    if classifier_horizon in horizons:
        fixed[:, horizons.index(classifier_horizon)] = classifier
    scorers = {"hazard": p, "classifier": fixed}
    oracle = oracle_within(truth, transition, test["lead_id"].to_numpy(), horizons)
    if oracle is not None:
        scorers["oracle"] = oracle
    brier = brier_by_horizon(scorers, converted, observed, horizons)
    days = np.arange(0.0, max(horizons) + 1, 7.0)
    observed_share = []
    for d in days:
        known, hit = known_within(converted, observed, d)
        observed_share.append(float(hit[known].mean()) if known.any() else np.nan)
    curves = {
        "hazard model (mean)": within(hazards, days).mean(axis=0).tolist(),
        "observed": observed_share,
    }
    return brier, brier_figure(brier, curves, days)


def brier_line(brier: dict) -> str:
    """The test Brier scores per horizon in one line, as a training run prints them."""
    parts = []
    for days, entry in brier.items():
        named = [name for name in ("hazard", "classifier", "oracle") if name in entry]
        scores = ", ".join(f"{name} {entry[name]:.4f}" for name in named)
        parts.append(f"{days} days: {scores or 'no test rows'}")
    return "Brier (lower is better) " + "; ".join(parts)
