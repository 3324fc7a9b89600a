"""One training run per transition: split by time, fit (LightGBM on the team's rules, plain
LightGBM, or with too few conversions the calibrated rules alone; see ``training.selection``),
judge against the hand-set baseline on the same test rows, log everything, register, and
promote only a model that beats the champion (a first version: the hand-set rules and chance;
see ``training.gate``).

This is the only module that orders side effects; the steps it calls are pure.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from core.progress import Progress, counted
from features.build import TrainingSet
from features.definitions import FEATURE_NAMES
from features.history import LeadHistory
from training import gate, plots, selection, tracking
from training.bundle import ScoringBundle
from training.compiled_trees import trees_library
from training.evaluate import compare_with_baseline, evaluate_scores, flatten_metrics, oracle_auc
from training.model import LeadConversionModel
from training.model.prior import HAND_SET_POINTS, monotone_signs
from training.profile import monitored_features, reference_profile
from training.rules import HandSetRules, RuleScores, score_leads
from training.selection import PriorMode
from training.split import (
    MIN_POSITIVES,
    floor_reason,
    split_for_training,
)
from training.timing.fit import fit_for_split
from training.timing.judge import brier_line, judge_on_test
from training.tracking.pyfunc import example_payloads, flat_rows

SHAP_SAMPLE_ROWS = 5_000
PASSES_THRESHOLD = "passes_threshold"  # with hand_set_points: the rules' verdict on a row


@dataclass
class TransitionResult:
    """Attributes:
    transition: which model.
    metrics: nested test metrics ("model": the served model, "with_rules": LightGBM on the
        rules prior, "plain": plain LightGBM, "baseline": the hand-set points, "at_threshold",
        "oracle"); a model not trained has no entry.
    split: row counts and boundaries of the time split.
    run_id, version: MLflow run and registered model version.
    promotion: the gate's decision with both AUCs and the reason.
    choice: what serves ("kind": with_rules, plain or rules_only) and why ("reason").
    threshold_key: the rules file's key of the threshold the head-to-head used
        (``HandSetRules.threshold_for``).
    """

    transition: str
    metrics: dict
    split: dict
    run_id: str = ""
    version: str = ""
    promotion: dict = field(default_factory=dict)
    choice: dict = field(default_factory=dict)
    threshold_key: str = "threshold"


def fingerprint(frame: pd.DataFrame) -> str:
    """Short hash of the rows a model was trained and tested on (ids, times, labels)."""
    hashed = pd.util.hash_pandas_object(frame[["lead_id", "decision_time", "label"]], index=False)
    return hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()[:16]


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC, NaN when the rows hold one outcome only (possible for the floor's test rows)."""
    return float(roc_auc_score(y, p)) if 0 < y.sum() < y.size else math.nan


def promotion_decision(
    y_test: np.ndarray,
    challenger_probability: np.ndarray,
    champion: ScoringBundle | None,
    test_features: pd.DataFrame,
    *,
    override: bool | None,
    baseline_auc: float | None = None,
    rules_only: bool = False,
) -> dict:
    """The champion gate (``training.gate``) on these test rows: the challenger against the
    champion, scored now on the same rows; a first version against the hand-set rules'
    ROC-AUC on them (``baseline_auc``) and chance; ``rules_only`` (the calibrated hand-set
    score) as ``gate.rules_only_version``. ``override`` forces either way."""
    challenger_auc = _auc(y_test, challenger_probability)
    champion_auc = None
    if champion is not None:
        try:
            champion_auc = _auc(y_test, champion.score_features(test_features))
        except (KeyError, ValueError) as error:  # different features: cannot compare fairly
            reason = f"champion cannot score these rows ({error}); promoting"
            return gate.decide((True, reason), override, challenger_auc=challenger_auc)
    if rules_only:
        verdict = gate.rules_only_version(challenger_auc, champion_auc)
    elif champion_auc is None:
        verdict = gate.first_version(challenger_auc, baseline_auc)
    else:
        verdict = gate.against_champion(challenger_auc, champion_auc)
    return gate.decide(
        verdict,
        override,
        challenger_auc=challenger_auc,
        champion_auc=champion_auc,
        baseline_auc=baseline_auc,
    )


def _mean_abs_shap(model: LeadConversionModel, features: pd.DataFrame, seed: int) -> pd.Series:
    """Mean |SHAP| per feature on a sample, and of the rules prior ("your_rules") if any."""
    sample = features.sample(n=min(len(features), SHAP_SAMPLE_ROWS), random_state=seed)
    return model.contributions(sample).drop(columns="bias").abs().mean()


def _with_points(rows: pd.DataFrame, history: LeadHistory, rules: HandSetRules) -> RuleScores:
    """The hand-set scores of the rows' decision points (the prior's input and the baseline).

    Rows that already carry them (``hand_set_points`` and ``passes_threshold``: the Dask
    engine scores the rules where each partition's history is) are taken as they are."""
    if HAND_SET_POINTS in rows.columns and PASSES_THRESHOLD in rows.columns:
        return RuleScores(
            points=pd.DataFrame(index=rows.index),
            total=rows[HAND_SET_POINTS].astype(np.float64).rename(HAND_SET_POINTS),
            passes_threshold=rows[PASSES_THRESHOLD].astype(bool).rename(PASSES_THRESHOLD),
            threshold=rules.threshold,
        )
    points = pd.DataFrame(
        {"lead_id": rows["lead_id"].to_numpy(), "as_of": rows["decision_time"].to_numpy()},
        index=rows.index,
    )
    return score_leads(rules, points, history)


def train_transition(
    training_set: TrainingSet,
    history: LeadHistory,
    rules: HandSetRules,
    *,
    truth: pd.DataFrame | None = None,
    seed: int = 7,
    model_params: dict | None = None,
    promote: bool | None = None,
    progress: Progress | None = None,
    import_report: dict | None = None,
    min_positives: int = MIN_POSITIVES,
    prior: PriorMode = "auto",
    monotone: bool = False,
    horizons_days: tuple[int, ...] = (30, 60, 90),
) -> TransitionResult:
    """Fit, evaluate, log, register and gate the model of one transition.

    ``prior``: whether the model starts from the hand-set rules ("auto": chosen on the
    validation rows, ``training.selection``); ``monotone``: keep the rules' signs in the trees.
    ``horizons_days``: the hazard model shipped beside it answers P(converting within each);
    it learns from the train and validation rows as known when the test period starts (the
    newest still open), and is judged on the test rows (``training.timing``).
    Below ``min_positives`` converted rows (``training.split.floor_reason``) no model is
    learned: the hand-set score, calibrated, is served, and the run says so. ``import_report``:
    the report of the CRM import the history came from; its leaky fields and leak risks are
    logged with the run (param ``import.leaky_fields``, document ``import_report.json``).
    """
    say = progress or (lambda _: None)
    transition = training_set.manifest["transition"]
    frame = training_set.frame
    split = split_for_training(training_set, min_positives)
    why_not = floor_reason(split, min_positives)
    features = list(FEATURE_NAMES)
    scores = {part: _with_points(rows, history, rules) for part, rows in split.parts().items()}
    split = split.with_column(HAND_SET_POINTS, {p: s.total.to_numpy() for p, s in scores.items()})
    train, validation, test = split.train, split.validation, split.test
    if why_not is None:
        say(
            f"[{transition}] training on {len(train):,} rows, early stopping on "
            f"{len(validation):,}, testing on {len(test):,} (split by decision time)"
        )
    else:
        say(
            f"[{transition}] too few conversions to learn from ({why_not}): serving your "
            f"hand-set score calibrated on {len(train) + len(validation):,} rows, no model"
        )
    choice = selection.fit_for_split(
        split,
        features,
        why_not,
        seed=seed,
        model_params=model_params,
        prior=prior,
        monotone=monotone_signs(rules, features) if monotone else None,
        progress=progress,
        task=f"[{transition}] boosting",
    )
    model = choice.model
    if why_not is None:
        say(f"[{transition}] serves {choice.reason}; calibration: {model.calibration_['chosen']}")
    inputs = [*features, HAND_SET_POINTS]
    y_test = test["label"].to_numpy()
    p_test = model.predict_proba(test[inputs])[:, 1]
    baseline = scores["test"]
    threshold, threshold_key = rules.threshold_for(transition)
    metrics = compare_with_baseline(
        y_test, p_test, baseline.total.to_numpy(), baseline.total.to_numpy() >= threshold
    )
    metrics["at_threshold"]["threshold"] = threshold
    learned = {"with_rules": choice.with_rules, "plain": choice.plain}
    probabilities = {
        name: p_test if other is model else other.predict_proba(test[inputs])[:, 1]
        for name, other in learned.items()
        if other is not None
    }
    for name, p in probabilities.items():
        metrics[name] = evaluate_scores(y_test, p, is_probability=True)
    if truth is not None:
        true_p = _true_probability(truth, transition, test)
        if true_p is not None and 0 < y_test.sum() < y_test.size:
            metrics["oracle"] = {
                "roc_auc": oracle_auc(y_test, true_p),
                "gap": oracle_auc(y_test, true_p) - metrics["model"]["roc_auc"],
            }

    say(f"[{transition}] timing: weekly hazard for {', '.join(map(str, horizons_days))} days ...")
    timing = fit_for_split(
        [train, validation],
        history,
        transition,
        inputs,
        validation_from=split.boundaries[0],
        test_from=split.boundaries[1],
        horizons_days=horizons_days,
        seed=seed,
    )
    metrics["timing"], timing_figure = judge_on_test(
        timing,
        test,
        inputs,
        history,
        transition,
        data_end=pd.Timestamp(training_set.manifest["data_end"]),
        classifier=p_test,
        classifier_horizon=int(training_set.manifest.get("horizon_days") or 0),
        truth=truth,
    )
    say(f"[{transition}] timing: {brier_line(metrics['timing'])}")

    task = f"[{transition}] explaining, logging and registering"
    with counted(progress, task, 5, "stages") as step:
        step(0, "SHAP importance")
        shap = _mean_abs_shap(model, test[inputs], seed)
        step(1, "plots")
        names = {"with_rules": "LightGBM on your rules", "plain": "LightGBM"}
        curves = {names[name]: p for name, p in probabilities.items()}
        ranked = {**curves, "hand-set points": baseline.total.to_numpy()}
        figures = {
            "timing": timing_figure,
            "importance": plots.importance_figure(
                list(model.feature_names_in_),
                model.gain_importance().reindex(model.feature_names_in_).to_numpy(),
                shap.reindex(model.feature_names_in_).to_numpy(),
            ),
        }
        if 0 < y_test.sum() < y_test.size:  # the curves need both outcomes among the test rows
            figures.update(
                roc=plots.roc_figure(y_test, ranked),
                precision_recall=plots.precision_recall_figure(y_test, ranked),
                calibration=plots.calibration_figure(y_test, curves),
                gain_lift=plots.gain_lift_figure(y_test, ranked),
            )
        step(2, "compiling the trees")
        library, compiled = trees_library(model)
        bundle = ScoringBundle(
            transition=transition,
            model=model,
            rules=rules,
            feature_names=features,
            metrics=metrics,
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
            data_fingerprint=fingerprint(frame),
            compiled_trees=library,
            timing=timing,
        )
        step(3, "monitoring reference and the champion gate")
        watched = monitored_features(model)
        reference = reference_profile(  # what `leadscore monitor` compares scored leads with
            transition=transition,
            features=frame[watched],
            probability=p_test,
            hand_set_points=baseline.total.to_numpy(),
            rules_threshold=rules.threshold,
            base_rate=metrics["model"]["base_rate"],
            roc_auc=metrics["model"]["roc_auc"],
            period={
                "decisions_from": str(frame["decision_time"].min()),
                "test_from": str(split.boundaries[1]),
                "decisions_to": str(frame["decision_time"].max()),
            },
        )
        example_rows = flat_rows(example_payloads(history, test.head(2)))
        decision = promotion_decision(
            y_test,
            p_test,
            tracking.load_bundle(transition),
            test[inputs],
            override=promote,
            baseline_auc=metrics["baseline"].get("roc_auc"),
            # the rules calibrated the right way round rank as the rules do (a reversed slope
            # ranks the other way and is judged as any first version)
            rules_only=choice.kind == "rules_only" and model.prior_.slope > 0,
        )
        params = {
            "transition": transition,
            "seed": seed,
            "horizon_days": training_set.manifest.get("horizon_days"),
            "n_features": len(features),
            "best_iteration": model.best_iteration_,
            "calibration": model.calibration_["chosen"],
            "rules_threshold": threshold,
            "rules_threshold_key": threshold_key,
            "model_choice": choice.kind,
            "rules_prior": "floor" if why_not else prior,
            "rules_prior.monotone": monotone,
            "min_positives": min_positives,
            **{f"timing.{k}": v for k, v in timing.describe().items()},
            **{f"split.{k}": v for k, v in split.describe().items()},
            **{
                f"model.{k}": v
                for k, v in model.get_params().items()
                if k != "monotone_constraints"  # a long mapping: in model_choice.json
            },
        }
        documents = {
            "training_set_manifest": training_set.manifest,
            "calibration": model.calibration_,
            "model_choice": choice.decision,
            "mean_abs_shap": shap.sort_values(ascending=False).head(50).to_dict(),
            "monitoring_reference": reference,
        }
        if import_report is not None:
            documents["import_report"] = import_report
            params["import.leaky_fields"] = _leaky_listing(import_report)
        if model.prior_ is not None:
            params.update({f"rules_prior.{k}": v for k, v in model.prior_.describe().items()})
        tags = {"model_choice_reason": choice.reason, "compiled_trees": compiled}
        if why_not is not None:
            tags["floor"] = f"calibrated hand-set score only: {why_not}"
        step(4, "logging to MLflow and registering")
        run_id, version = tracking.log_training_run(
            bundle,
            run_name=f"{transition}-{bundle.trained_at}",
            params=params,
            metrics=flatten_metrics(metrics),
            figures=figures,
            documents=documents,
            input_example=example_rows,
            tags=tags,
        )
        tracking.promote(transition, version, run_id, decision)
        step(5)
    say(f"[{transition}] registered version {version}: {decision['reason']}")
    return TransitionResult(
        transition=transition,
        metrics=metrics,
        split=split.describe(),
        run_id=run_id,
        version=version,
        promotion=decision,
        choice={
            "kind": choice.kind,
            "reason": choice.reason,
            "with_rules_trees": getattr(choice.with_rules, "best_iteration_", None),
        },
        threshold_key=threshold_key,
    )


def _leaky_listing(import_report: dict, limit: int = 1_000) -> str:
    """The import's leaky fields and leak risks in one param value (MLflow caps its length)."""
    fields = import_report.get("leaky_fields", [])
    text = "; ".join(f"{f['table']}.{f['column']} [{f['action']}]" for f in fields) or "none"
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _true_probability(
    truth: pd.DataFrame, transition: str, rows: pd.DataFrame
) -> np.ndarray | None:
    """The simulator's true probability of each test row, when the truth file covers them."""
    own = truth[truth["transition"] == transition].set_index("lead_id")["true_probability"]
    values = own.reindex(rows["lead_id"].to_numpy())
    return None if values.isna().any() else values.to_numpy()
