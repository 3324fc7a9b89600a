"""Which model a run serves: LightGBM that starts from the team's hand-set rules (the rules
prior, ``training.model.prior``), plain LightGBM, or the calibrated rule score alone.

The candidates are fitted on the training rows and judged by their log loss on the validation
rows, row by row, out of fold where a candidate chose something on those rows (its calibrator,
its number of trees). The rules are preferred: among your rules alone and LightGBM on them the
simplest (fewest trees, then the strongest prior) whose validation log loss is within one
standard error of the best's; plain LightGBM serves only when it is better than that by more
than two standard errors. With too few conversions to learn from (``rules_only``) no tree is
grown. Every decision comes with one sentence saying what serves and why, and the candidates'
numbers, for the run to print and log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.progress import Progress, counted
from training.model.calibration import cross_fitted
from training.model.estimator import LeadConversionModel
from training.model.prior import HAND_SET_POINTS, row_log_loss, trees_logit, within_se
from training.split import TimeSplit

PriorMode = Literal["auto", "on", "off"]
PRIOR_MODES: tuple[str, ...] = ("auto", "on", "off")
PRIOR_STRENGTHS: tuple[float, ...] = (1.0, 0.5)  # at equal trees the stronger is preferred
Kind = Literal["with_rules", "plain", "rules_only"]
# Plain LightGBM replaces the rules only when better by more than this many standard errors of
# the validation log loss: the rules are the team's prior, and a few dozen validation rows
# (whose number of trees plain LightGBM was early-stopped on, too) are easily fooled.
PLAIN_MUST_WIN_BY = 2.0
OUT_OF_FOLD_CELLS = 4_000_000  # validation rows x trees judged out of fold (32 MB of losses)


@dataclass(frozen=True)
class Candidate:
    """One fitted candidate and its validation log loss (mean, and per row for the paired
    comparison)."""

    name: str
    model: LeadConversionModel
    losses: np.ndarray = field(repr=False)

    @property
    def log_loss(self) -> float:
        return float(self.losses.mean())

    def describe(self) -> dict[str, Any]:
        model = self.model
        return {
            "name": self.name,
            "strength": None if model.prior_ is None else model.prior_.strength,
            "trees": int(model.best_iteration_),
            "validation_log_loss": self.log_loss,
            "trees_chosen_by": model.trees_,
        }


@dataclass(frozen=True)
class ModelChoice:
    """What a run serves and what it was compared with.

    Attributes:
        model: the model that serves.
        kind: "with_rules" (LightGBM on the rules prior), "plain" (LightGBM alone) or
            "rules_only" (the calibrated hand-set score: too few conversions to learn from,
            or no correction tree earned its place on validation).
        with_rules: the best model starting from the rules (None when the prior is off).
        plain: plain LightGBM (None for the floor, which grows no trees).
        reason: one sentence: what serves and why.
        decision: JSON-ready details to log (mode, candidates and their validation log loss).
    """

    model: LeadConversionModel
    kind: Kind
    with_rules: LeadConversionModel | None
    plain: LeadConversionModel | None
    reason: str
    decision: dict[str, Any]


def describe_model(model: LeadConversionModel) -> str:
    """A model in words: "LightGBM on your rules (strength 1, 14 correction trees)"."""
    if model.prior_ is None:
        return f"plain LightGBM ({model.best_iteration_} trees)"
    if model.booster_ is None:
        return f"your rules alone (calibrated on {model.prior_.rows:,} rows)"
    return (
        f"LightGBM on your rules (strength {model.prior_.strength:g}, "
        f"{model.best_iteration_} correction trees)"
    )


def kind_of(model: LeadConversionModel) -> Kind:
    if model.prior_ is None:
        return "plain"
    return "rules_only" if model.booster_ is None else "with_rules"


def _losses(model: LeadConversionModel, X: pd.DataFrame, y: np.ndarray) -> np.ndarray:
    """Each validation row's log loss, judged out of fold where the model chose something on
    these same rows: a calibrator is fitted on the other half of the rows (``cross_fitted``),
    and so is the number of trees correcting the rules (``_trees_out_of_fold``)."""
    grown = model.prior_ is not None and model.booster_ is not None
    if grown and model.calibration_["chosen"] == "none":
        judged = _trees_out_of_fold(model, X, y)
        if judged is not None:
            return judged
    raw = model.with_prior(model.raw_probability(model.encode(X)), model.prior_points(X))
    p = cross_fitted(raw, y, model.calibration_["chosen"])
    return row_log_loss(y, trees_logit(p))


def _trees_out_of_fold(
    model: LeadConversionModel, X: pd.DataFrame, y: np.ndarray
) -> np.ndarray | None:
    """Validation log loss of a model on the rules prior, its number of trees chosen out of
    fold: on alternate halves of the rows, each half scored at the number the one-standard-
    error rule picks on the other half (from none up to the early-stopped number). Picking
    the number on the rows that judge it flatters a correction most when they are few; with
    many rows (over ``OUT_OF_FOLD_CELLS`` row x tree losses) it matters little: None."""
    most = int(model.trees_.get("early_stopping", model.best_iteration_))
    if len(y) * (most + 1) > OUT_OF_FOLD_CELLS:
        return None
    matrix = model.encode(X)
    margin = model.prior_.logit(model.prior_points(X))
    losses = np.empty((len(y), most + 1))
    losses[:, 0] = row_log_loss(y, margin)
    for k in range(most):
        margin = margin + model.booster_.predict(
            matrix, start_iteration=k, num_iteration=1, raw_score=True
        )
        losses[:, k + 1] = row_log_loss(y, margin)
    halves = np.arange(len(y)) % 2 == 0
    out = np.empty(len(y))
    for pick_on in (halves, ~halves):
        picked = losses[pick_on]
        best = int(np.argmin(picked.mean(axis=0)))
        trees = next(k for k in range(best + 1) if within_se(picked[:, k], picked[:, best])[0])
        out[~pick_on] = losses[~pick_on, trees]
    return out


def _preferred(
    candidates: Sequence[Candidate], errors: float = 1.0
) -> tuple[Candidate, Candidate, float, float]:
    """(chosen, best, gap, se): the first candidate (in order of preference) whose validation
    log loss is within ``errors`` standard errors of the best's, paired over the validation
    rows."""
    best = min(candidates, key=lambda c: c.log_loss)
    for candidate in candidates:
        kept, gap, se = within_se(candidate.losses, best.losses, errors)
        if kept:
            return candidate, best, gap, se
    raise AssertionError("unreachable: the best candidate is within reach of itself")


def choose_model(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    *,
    features: Sequence[str],
    prior: PriorMode = "auto",
    strengths: Sequence[float] = PRIOR_STRENGTHS,
    monotone: Mapping[str, int] | None = None,
    seed: int = 0,
    model_params: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    task: str = "boosting",
) -> ModelChoice:
    """Fit plain LightGBM and, unless ``prior`` is "off", LightGBM on the rules prior at each of
    ``strengths`` (with ``monotone`` constraints if given), all early-stopped on
    ``validation``; pick what serves (``prior`` "auto": by validation, preferring the rules;
    "on": the best prior candidate). Frames hold ``features``, ``hand_set_points`` and
    ``label``. Progress: each candidate's boosting rounds as a counted step named ``task``."""
    if prior not in PRIOR_MODES:
        raise ValueError(f"prior must be one of {', '.join(PRIOR_MODES)}, got {prior!r}")
    columns = [*features, HAND_SET_POINTS]
    X, y = train[columns], train["label"].to_numpy()
    X_val, y_val = validation[columns], validation["label"].to_numpy()
    params = {"random_state": seed, **(model_params or {})}
    plain = _fit(
        LeadConversionModel(**params),
        X[list(features)],
        y,
        (X_val, y_val),
        progress,
        f"{task} plain LightGBM",
    )
    plain_candidate = Candidate("plain LightGBM", plain, _losses(plain, X_val, y_val))
    decision: dict[str, Any] = {"prior": prior, "candidates": [plain_candidate.describe()]}
    if prior == "off":
        reason = "plain LightGBM: the rules prior is off"
        return ModelChoice(plain, "plain", None, plain, reason, {**decision, "reason": reason})

    alone = _rules_alone(X, y)
    priors = [Candidate("your rules alone", alone, _losses(alone, X_val, y_val))]
    for strength in strengths:
        model = LeadConversionModel(
            **params,
            prior_column=HAND_SET_POINTS,
            prior_strength=strength,
            monotone_constraints=dict(monotone) if monotone else None,
        )
        model = _fit(model, X, y, (X_val, y_val), progress, f"{task} on your rules at {strength:g}")
        losses = _losses(model, X_val, y_val)
        priors.append(Candidate(f"rules prior at {strength:g}", model, losses))
    decision["candidates"] += [c.describe() for c in priors]
    # a prior that kept no tree is the rules alone, less well calibrated below strength 1
    priors = [c for c in priors if c.model is alone or c.model.booster_ is not None]
    decision["monotone_constraints"] = dict(monotone or {})
    # the simplest first: fewest trees (the rules alone: none), then the strongest prior
    ordered = sorted(priors, key=lambda c: (c.model.best_iteration_, -c.model.prior_.strength))
    rules_choice = _preferred(ordered)[0]
    if prior == "on":
        chosen = rules_choice
        reason = f"{describe_model(rules_choice.model)}: the rules prior is on"
    else:
        chosen, best, gap, se = _preferred([rules_choice, plain_candidate], PLAIN_MUST_WIN_BY)
        reason = _reason(chosen, rules_choice, plain_candidate, best, gap, se)
    decision.update(chosen=chosen.name, reason=reason)
    model = chosen.model
    if model.booster_ is None:  # the prior alone, judged fitted on the training rows: served
        model = _rules_alone(pd.concat([X, X_val]), np.r_[y, y_val], model.prior_.strength)
        reason = decision["reason"] = reason.replace(
            describe_model(chosen.model), describe_model(model)
        )
    # the model on the rules shown beside plain LightGBM: the best with trees, if any has some
    grown = [c for c in ordered if c.model.booster_ is not None]
    if model.prior_ is not None and model.booster_ is not None:
        with_rules = model
    elif grown:
        with_rules = _preferred(grown)[0].model
    else:
        with_rules = model if model.prior_ is not None else rules_choice.model
    return ModelChoice(model, kind_of(model), with_rules, plain, reason, decision)


def _fit(
    model: LeadConversionModel,
    X: pd.DataFrame,
    y: np.ndarray,
    eval_set: tuple[pd.DataFrame, np.ndarray],
    progress: Progress | None,
    task: str,
) -> LeadConversionModel:
    """``model.fit`` with its boosting rounds reported as one counted step (early stopping
    usually ends it before the bar is full)."""
    with counted(progress, task, model.n_estimators, "trees") as step:
        return model.fit(X, y, eval_set=eval_set, on_round=step)


def _rules_alone(X: pd.DataFrame, y: np.ndarray, strength: float = 1.0) -> LeadConversionModel:
    """The hand-set score calibrated on these rows (at ``strength``), no trees."""
    model = LeadConversionModel(
        n_estimators=0, prior_column=HAND_SET_POINTS, prior_strength=strength
    )
    return model.fit(X, y)


def _reason(
    chosen: Candidate,
    with_rules: Candidate,
    plain: Candidate,
    best: Candidate,
    gap: float,
    se: float,
) -> str:
    """Why ``chosen`` serves, in one sentence with the validation log losses."""
    rules_words = describe_model(with_rules.model)
    if chosen is plain:
        return (
            f"plain LightGBM: validation log loss {plain.log_loss:.4f}, better than "
            f"{rules_words} ({with_rules.log_loss:.4f}) by more than {PLAIN_MUST_WIN_BY:g} "
            f"standard errors ({se:.4f})"
        )
    if chosen is best:
        return (
            f"{rules_words}: validation log loss {with_rules.log_loss:.4f}, plain LightGBM "
            f"{plain.log_loss:.4f}"
        )
    return (
        f"{rules_words}: validation log loss {with_rules.log_loss:.4f}, within "
        f"{PLAIN_MUST_WIN_BY:g} standard errors ({se:.4f}) of plain LightGBM's "
        f"{plain.log_loss:.4f}; the rules are preferred"
    )


def fit_for_split(
    split: TimeSplit,
    features: Sequence[str],
    why_not: str | None,
    *,
    seed: int,
    model_params: Mapping[str, Any] | None,
    prior: PriorMode,
    monotone: Mapping[str, int] | None,
    progress: Progress | None = None,
    task: str = "boosting",
) -> ModelChoice:
    """A run's model: the floor on train + validation when ``why_not`` says why no model can
    be learned (``training.split.floor_reason``), else ``choose_model``."""
    if why_not is not None:
        rows = pd.concat([split.train, split.validation])
        return rules_only(rows, features=features, why=why_not)
    return choose_model(
        split.train,
        split.validation,
        features=features,
        prior=prior,
        monotone=monotone,
        seed=seed,
        model_params=model_params,
        progress=progress,
        task=task,
    )


def rules_only(rows: pd.DataFrame, *, features: Sequence[str], why: str) -> ModelChoice:
    """The floor: the hand-set score calibrated on ``rows`` (features, ``hand_set_points``,
    ``label``), no trees. ``why`` says why no model is learned (too few conversions)."""
    model = _rules_alone(rows[[*features, HAND_SET_POINTS]], rows["label"].to_numpy())
    reason = f"{describe_model(model)}: {why}"
    decision = {"prior": "floor", "chosen": "rules only", "reason": reason, "candidates": []}
    return ModelChoice(model, "rules_only", model, None, reason, decision)
