"""Learned vs hand-set points: which of a team's hand-set rules its own history supports.

The comparison keeps every rule exactly as the team wrote it (what counts, window, decay, cap)
and learns only its points, so the answer reads rule by rule and the learned points drop into
the same rules file. Steps, all on one transition's decision points (default ``mql_to_sql``,
where the hand-set threshold is the hand-over to sales):

1. Signal: each rule's points divided by its hand-set points (scored with every rule at one
   point, its cap divided by its points), i.e. how strongly the rule fires: 0/1 for attribute
   and behaviour rules, the decayed, capped number of matching touches for touch rules.
2. Split by decision time (``training.split.time_split``): the scorecard is fitted on the older
   85 % (train + validation), the model on train (early stopping on validation); the newest
   15 % (test) judges all three scores.
3. Scorecard: logistic regression of the outcome on the signals with a weak L2 penalty
   (``L2_PENALTY``: about a N(0, 1) prior on the log-odds per unit of signal, which only matters
   for rules that rarely fire), fitted by Newton's method.
4. Scale: points = ``scale`` x log-odds. ``scale`` is chosen so that, on the fit rows, the
   learned scorecard passes exactly as many leads at the hand-set threshold as the hand-set
   points do: the threshold keeps its meaning (the same hand-over volume) and 1 learned point
   is 1/scale log-odds. If the hand-set threshold passes no lead (or is <= 0), the scale matches
   the spread (standard deviation) of the hand-set totals instead.
5. Uncertainty: ``bootstrap`` resamples of the fit rows (seeded), each refitting the scorecard
   and its scale; the 2.5 and 97.5 percentiles bound the learned points.
6. The model's view: LightGBM SHAP values (log-odds) summed over the features a rule is built
   from (``related_features``), averaged over leads where the rule fires minus leads where it
   does not, per unit of signal, times ``scale``: the points the model implicitly gives the
   rule. Features no rule relates to (and, for attribute columns, the values no rule picks)
   with a large mean |SHAP| are reported as signals no hand-set rule covers.
7. Capacity: sales can take ``capacity_per_month`` leads (default: as many as the hand-set
   threshold passed per month on the fit rows). Thresholds for the learned points (fit rows)
   and the model (validation rows: the model's own training rows would flatter it) are set for
   that volume on older data and applied to the test period; the fair comparison is the number
   of conversions among the top ``capacity`` leads per month of each score on the test period.
   When the model is fitted here, LightGBM starting from the hand-set rules
   is a fourth score, "LightGBM on rules", next to plain LightGBM and the points.

``compare_weights`` is pure (no files, no MLflow); ``training.weights.report.publish`` renders and
logs. This module orchestrates; each step has its own module: ``rows`` (signals, split),
``scorecard`` (fit, scale, bootstrap), ``verdicts`` (per-rule table), ``capacity`` (thresholds,
test-period table), ``model_view`` (SHAP view), ``export`` (learned rules file) and ``results`` (the
result dataclasses). Their public names are re-exported here, so callers import from
``training.weights.compare``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from core.contract import TRANSITIONS
from core.errors import InputError
from core.progress import Progress, counted
from features.build import TrainingSet, build_training_set
from features.decision_points import data_end_of
from features.history import LeadHistory
from training.model import LeadConversionModel
from training.model.prior import HAND_SET_POINTS
from training.rules import HandSetRules
from training.selection import choose_model
from training.weights.capacity import capacity_scores, capacity_table
from training.weights.export import POINTS_DECIMALS, learned_rules_file, rules_yaml
from training.weights.model_view import UncoveredSignal, model_view, uncovered_signals
from training.weights.results import CapacityRow, RuleWeight, WeightsComparison
from training.weights.rows import decision_rows, unit_rules
from training.weights.scorecard import (
    L2_PENALTY,
    Scorecard,
    fit_logistic,
    fit_scorecard,
    points_scale,
)
from training.weights.verdicts import MIN_FIRES, rule_rows, size_tolerance, verdict

__all__ = [
    "L2_PENALTY",
    "MAX_BOOTSTRAP",
    "MIN_FIRES",
    "POINTS_DECIMALS",
    "TRANSITIONS",
    "CapacityRow",
    "RuleWeight",
    "Scorecard",
    "UncoveredSignal",
    "WeightsComparison",
    "compare_weights",
    "fit_logistic",
    "fit_scorecard",
    "learned_rules_file",
    "points_scale",
    "rules_yaml",
    "size_tolerance",
    "unit_rules",
    "verdict",
]

MAX_BOOTSTRAP = 2_000


def _check_arguments(
    rules: HandSetRules, transition: str, capacity_per_month: float | None, bootstrap: int
) -> None:
    """Refuse bad arguments before any slow work, with a message naming the fix."""
    if transition not in TRANSITIONS:
        raise InputError(f"transition {transition!r}: use one of {', '.join(TRANSITIONS)}")
    if capacity_per_month is not None and not (
        math.isfinite(capacity_per_month) and capacity_per_month > 0
    ):
        raise InputError(f"capacity_per_month must be a positive number, got {capacity_per_month}")
    if not 0 <= bootstrap <= MAX_BOOTSTRAP:
        raise InputError(f"bootstrap must lie between 0 and {MAX_BOOTSTRAP}, got {bootstrap}")
    if not isinstance(rules, HandSetRules):
        raise InputError("rules must be a HandSetRules (see training.rules.load_rules)")


def compare_weights(
    history: LeadHistory,
    rules: HandSetRules,
    *,
    transition: str = "mql_to_sql",
    capacity_per_month: float | None = None,
    seed: int = 7,
    bootstrap: int = 200,
    model: LeadConversionModel | None = None,
    horizon_days: int = 90,
    training_set: TrainingSet | None = None,
    model_params: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> WeightsComparison:
    """Hand-set vs learned points, the model's view and the capacity trade-off (pure).

    ``training_set`` (the transition's, from ``features.build``) saves rebuilding it. Without
    ``model`` a ``LeadConversionModel`` (``model_params``) is fitted on the older rows; a given
    model should have been trained on rows older than the test period, or its numbers flatter.
    ``progress`` hears the bootstrap and the model's boosting as counted steps.
    """
    _check_arguments(rules, transition, capacity_per_month, bootstrap)
    if training_set is None:
        training_set = build_training_set(
            history, transition, horizon_days=horizon_days, data_end=data_end_of(history)
        )
    elif training_set.manifest.get("transition", transition) != transition:
        raise InputError(
            f"training_set is for {training_set.manifest['transition']}, not {transition}"
        )
    threshold, threshold_key = rules.threshold_for(transition)
    rows = decision_rows(training_set, history, rules, threshold)
    frame, fit = rows.frame, rows.fit
    hand_points = np.array([rule.points for rule in rules.rules])
    with counted(progress, f"[{transition}] bootstrap", bootstrap, "resamples") as step:
        card = fit_scorecard(
            rows.signal[fit],
            rows.y[fit],
            rows.passes[fit],
            rows.hand_total[fit],
            threshold,
            bootstrap=bootstrap,
            seed=seed,
            on_resample=step,
        )
    fires_rows = (rows.signal[fit] != 0).sum(axis=0)
    learned = np.where(fires_rows < MIN_FIRES, hand_points, np.round(card.points, POINTS_DECIMALS))

    model_source = "given"
    features = [c for c in frame.columns if c not in ("lead_id", "decision_time", "label")]
    with_rules = None
    if model is None:  # plain LightGBM, and LightGBM on the rules beside it
        scored = frame.assign(**{HAND_SET_POINTS: rows.hand_total})
        choice = choose_model(
            scored.iloc[rows.train],
            scored.iloc[rows.validation],
            features=features,
            prior="on",
            seed=seed,
            model_params=model_params,
            progress=progress,
            task=f"[{transition}] boosting",
        )
        model, with_rules = choice.plain, choice.with_rules.predict_proba(scored)[:, 1]
        model_source = "fitted on the training rows, early-stopped on the validation rows"
    model_features = list(model.feature_names_in_)
    missing = [f for f in model_features if f not in frame.columns]
    if missing:
        raise InputError(f"the model needs features the training set lacks: {missing[:5]}")
    probability = model.predict_proba(frame[model_features])[:, 1]

    capacity_is_default = capacity_per_month is None
    capacity, learned_threshold, scores = capacity_scores(
        rows, learned, probability, threshold, capacity_per_month, with_rules
    )
    capacity_rows, curves = capacity_table(rows, scores, capacity)
    view = model_view(frame, rows.signal, model, model_features, rules, seed)
    t = pd.to_datetime(frame["decision_time"])
    return WeightsComparison(
        transition=transition,
        threshold=threshold,
        threshold_key=threshold_key,
        learned_threshold=float(learned_threshold),
        scale=float(card.scale),
        scale_method=card.scale_method,
        capacity_per_month=capacity,
        capacity_is_default=capacity_is_default,
        periods={
            "fit_from": str(t.iloc[fit].min()),
            "test_from": str(t.iloc[rows.test].min()),
            "test_to": str(t.iloc[rows.test].max()),
            "fit_rows": int(fit.size),
            "test_rows": int(rows.test.size),
            "fit_conversion_rate": float(rows.y[fit].mean()),
            "test_conversions": int(rows.y[rows.test].sum()),
            "fit_months": rows.months["fit"],
            "test_months": rows.months["test"],
            "leads_at_capacity_in_test": min(round(capacity * rows.months["test"]), rows.test.size),
        },
        rules=tuple(rule_rows(rows, rules, card, learned, view)),
        uncovered=tuple(uncovered_signals(view, frame, rules, card.scale)),
        capacity=tuple(capacity_rows),
        curves=curves,
        learned_rules=learned_rules_file(rules, learned, learned_threshold, threshold_key),
        settings={
            "seed": seed,
            "bootstrap": bootstrap,
            "l2_penalty": L2_PENALTY,
            "min_fires": MIN_FIRES,
            "shap_rows": int(view["rows"].size),
            "model": model_source,
            "horizon_days": training_set.manifest.get("horizon_days", horizon_days),
        },
    )
