"""Fitting the hazard model on decision rows as they were known at a cut-off: the follow-up of
every row (censored ones included) and the features of its decision time, split by decision
time for early stopping."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.build import build_features
from features.decision_points import follow_up
from features.history import LeadHistory
from training.model.prior import HAND_SET_POINTS
from training.rules import HandSetRules, score_leads
from training.timing.hazard import HazardModel

VALIDATION_FRACTION = 0.15


def decision_features(
    rows: pd.DataFrame, history: LeadHistory, rules: HandSetRules
) -> pd.DataFrame:
    """Registry features and hand-set points of decision rows (``lead_id``, ``as_of``), from
    events strictly before each row's ``as_of``."""
    points = rows[["lead_id", "as_of"]].reset_index(drop=True)
    features = build_features(points, history)
    features[HAND_SET_POINTS] = score_leads(rules, points, history).total.to_numpy()
    return features


def censored_at(follow: pd.DataFrame, cut_off: pd.Timestamp) -> pd.DataFrame:
    """The follow-up as it was known at ``cut_off``: conversions after it unknown, observation
    ending there (rows decided after it are dropped)."""
    kept = follow[follow["as_of"] < cut_off]
    observed = (pd.Timestamp(cut_off) - kept["as_of"]).dt.total_seconds().to_numpy() / 86_400
    converted = kept["converted_days"].to_numpy()
    converted = np.where(converted <= observed, converted, np.nan)
    return kept.assign(converted_days=converted, observed_days=observed)


def fit_hazard(
    features: pd.DataFrame,
    follow: pd.DataFrame,
    *,
    horizons_days: Sequence[int],
    seed: int,
    validation_from: pd.Timestamp | None = None,
) -> HazardModel:
    """A hazard model on ``features`` (aligned to ``follow``'s rows); rows decided from
    ``validation_from`` on (default: the newest 15%) stop the trees early, observed as far as
    ``follow`` says. Both parts are censored alike, so the newest leads count as what is known."""
    as_of = follow["as_of"].to_numpy()
    if validation_from is None:
        validation_from = pd.Timestamp(np.quantile(as_of.astype("int64"), 1 - VALIDATION_FRACTION))
    is_validation = as_of >= np.datetime64(pd.Timestamp(validation_from))
    if is_validation.all() or not is_validation.any():
        is_validation = np.zeros(len(follow), dtype=bool)
    converted = follow["converted_days"].to_numpy()
    observed = follow["observed_days"].to_numpy()
    train = ~is_validation
    model = HazardModel(horizons_days, random_state=seed)
    eval_set = None
    if is_validation.any():
        eval_set = (
            features[is_validation].reset_index(drop=True),
            converted[is_validation],
            observed[is_validation],
        )
    return model.fit(
        features[train].reset_index(drop=True),
        converted[train],
        observed[train],
        eval_set=eval_set,
    )


def fit_at(
    history: LeadHistory,
    transition: str,
    rules: HandSetRules,
    *,
    cut_off: pd.Timestamp,
    horizons_days: Sequence[int],
    seed: int,
) -> HazardModel:
    """The hazard model of ``transition`` from what was known at ``cut_off``: every decision
    before it, open ones included, features at their decision time."""
    follow = censored_at(follow_up(history, transition, data_end=cut_off), cut_off)
    features = decision_features(follow, history, rules)
    return fit_hazard(features, follow, horizons_days=horizons_days, seed=seed)


def fit_for_split(
    parts: Sequence[pd.DataFrame],
    history: LeadHistory,
    transition: str,
    inputs: Sequence[str],
    *,
    validation_from: pd.Timestamp,
    test_from: pd.Timestamp,
    horizons_days: Sequence[int],
    seed: int,
) -> HazardModel:
    """The hazard model of a training run: the train and validation ``parts`` (rows of a time
    split: lead_id, decision_time and the ``inputs`` at it), followed up as known when the test
    period starts (``test_from``): so the newest of them are still open, and the test rows'
    outcomes never reach the fit. Validation rows (decided from ``validation_from``) stop the
    trees early."""
    rows = pd.concat([part[["lead_id", "decision_time", *inputs]] for part in parts])
    follow = follow_up(history, transition, data_end=test_from).set_index("lead_id")
    known = rows["lead_id"].isin(follow.index).to_numpy()
    rows = rows[known].sort_values("decision_time", kind="stable").reset_index(drop=True)
    timing = follow.reindex(rows["lead_id"].to_numpy())
    aligned = pd.DataFrame(
        {
            "as_of": rows["decision_time"].to_numpy(),
            "converted_days": timing["converted_days"].to_numpy(),
            "observed_days": timing["observed_days"].to_numpy(),
        }
    )
    return fit_hazard(
        rows[list(inputs)],
        aligned,
        horizons_days=horizons_days,
        seed=seed,
        validation_from=validation_from,
    )
