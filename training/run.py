"""One training run per transition: split by time, fit, judge against the hand-set baseline on
the same test rows, log everything, register, and promote only a model that beats the champion
(a first version: the hand-set rules and chance; see ``training.gate``).

This is the only module that orders side effects; the steps it calls are pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from features.build import TrainingSet
from features.definitions import FEATURE_NAMES
from features.history import LeadHistory
from training import gate, plots, tracking
from training.bundle import ScoringBundle
from training.evaluate import compare_with_baseline, flatten_metrics, oracle_auc
from training.model import LeadConversionModel
from training.profile import monitored_features, reference_profile
from training.rules import HandSetRules, score_leads
from training.split import MIN_ROWS_PER_OUTCOME, TimeSplit, require_outcomes, time_split
from training.tracking.pyfunc import flat_rows

Progress = Callable[[str], None]
SHAP_SAMPLE_ROWS = 5_000


@dataclass
class TransitionResult:
    """Attributes:
    transition: which model.
    metrics: nested test metrics ("model", "baseline", "at_threshold", "oracle").
    split: row counts and boundaries of the time split.
    run_id, version: MLflow run and registered model version.
    promotion: the gate's decision with both AUCs and the reason.
    """

    transition: str
    metrics: dict
    split: dict
    run_id: str = ""
    version: str = ""
    promotion: dict = field(default_factory=dict)


def fingerprint(frame: pd.DataFrame) -> str:
    """Short hash of the rows a model was trained and tested on (ids, times, labels)."""
    hashed = pd.util.hash_pandas_object(frame[["lead_id", "decision_time", "label"]], index=False)
    return hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()[:16]


def split_for_training(training_set: TrainingSet) -> TimeSplit:
    """The time split of a training set, checked before anything is fitted or logged: each part
    needs ``MIN_ROWS_PER_OUTCOME`` rows of each outcome (``TooFewRowsError`` names the counts).
    The command line checks every transition this way before training the first."""
    transition = training_set.manifest["transition"]
    frame = training_set.frame
    if len(frame) == 0:
        empty = np.zeros(0, dtype=int)
        require_outcomes(transition, dict.fromkeys(MIN_ROWS_PER_OUTCOME, empty))
    split = time_split(frame)
    require_outcomes(
        transition,
        {
            "train": split.train["label"].to_numpy(),
            "validation": split.validation["label"].to_numpy(),
            "test": split.test["label"].to_numpy(),
        },
    )
    return split


def promotion_decision(
    y_test: np.ndarray,
    challenger_probability: np.ndarray,
    champion: ScoringBundle | None,
    test_features: pd.DataFrame,
    *,
    override: bool | None,
    baseline_auc: float | None = None,
) -> dict:
    """The champion gate (``training.gate``) on these test rows: the challenger against the
    champion, scored now on the same rows; a first version against the hand-set rules'
    ROC-AUC on them (``baseline_auc``) and chance. ``override`` forces either way."""
    challenger_auc = float(roc_auc_score(y_test, challenger_probability))
    if champion is None:
        verdict = gate.first_version(challenger_auc, baseline_auc)
        return gate.decide(
            verdict, override, challenger_auc=challenger_auc, baseline_auc=baseline_auc
        )
    try:
        champion_auc = float(roc_auc_score(y_test, champion.score_features(test_features)))
    except (KeyError, ValueError) as error:  # different features: cannot compare fairly
        reason = f"champion cannot score these rows ({error}); promoting"
        return gate.decide((True, reason), override, challenger_auc=challenger_auc)
    return gate.decide(
        gate.against_champion(challenger_auc, champion_auc),
        override,
        challenger_auc=challenger_auc,
        champion_auc=champion_auc,
        baseline_auc=baseline_auc,
    )


def _mean_abs_shap(model: LeadConversionModel, features: pd.DataFrame, seed: int) -> pd.Series:
    sample = features.sample(n=min(len(features), SHAP_SAMPLE_ROWS), random_state=seed)
    contributions = model.contributions(sample).drop(columns="bias")
    return contributions.abs().mean().reindex(model.feature_names_in_)


def _example_payloads(history: LeadHistory, rows: pd.DataFrame) -> list[dict]:
    """Real leads from the test rows, in the model's input shape (signature and example)."""
    payloads = []
    for lead_id, as_of in zip(rows["lead_id"], rows["decision_time"], strict=True):
        lead = history.leads[history.leads["lead_id"] == lead_id].iloc[0].to_dict()
        touches = history.touches[history.touches["lead_id"] == lead_id]
        stages = history.stage_changes[history.stage_changes["lead_id"] == lead_id]
        payloads.append(
            {
                "lead": lead,
                "touches": touches.drop(columns="lead_id").to_dict("records"),
                "stage_changes": stages.drop(columns="lead_id").to_dict("records"),
                "as_of": pd.Timestamp(as_of).isoformat(),
            }
        )
    return payloads


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
) -> TransitionResult:
    """Fit, evaluate, log, register and gate the model of one transition. ``import_report``:
    the report of the CRM import the history came from; its leaky fields and leak risks are
    logged with the run (param ``import.leaky_fields``, document ``import_report.json``)."""
    say = progress or (lambda _: None)
    transition = training_set.manifest["transition"]
    frame = training_set.frame
    split = split_for_training(training_set)
    features = list(FEATURE_NAMES)
    train, validation, test = split.train, split.validation, split.test
    say(
        f"[{transition}] training on {len(train):,} rows, early stopping on "
        f"{len(validation):,}, testing on {len(test):,} (split by decision time)"
    )
    model = LeadConversionModel(random_state=seed, **(model_params or {}))
    model.fit(train[features], train["label"], eval_set=(validation[features], validation["label"]))
    say(
        f"[{transition}] {model.best_iteration_} trees; calibration: {model.calibration_['chosen']}"
    )
    y_test = test["label"].to_numpy()
    p_test = model.predict_proba(test[features])[:, 1]
    test_points = pd.DataFrame(
        {"lead_id": test["lead_id"].to_numpy(), "as_of": test["decision_time"].to_numpy()}
    )
    baseline = score_leads(rules, test_points, history)
    metrics = compare_with_baseline(
        y_test, p_test, baseline.total.to_numpy(), baseline.passes_threshold.to_numpy()
    )
    if truth is not None:
        true_p = _true_probability(truth, transition, test)
        if true_p is not None:
            metrics["oracle"] = {
                "roc_auc": oracle_auc(y_test, true_p),
                "gap": oracle_auc(y_test, true_p) - metrics["model"]["roc_auc"],
            }

    say(f"[{transition}] plots and SHAP importance ...")
    shap = _mean_abs_shap(model, test[features], seed)
    scores = {"LightGBM": p_test, "hand-set points": baseline.total.to_numpy()}
    figures = {
        "roc": plots.roc_figure(y_test, scores),
        "precision_recall": plots.precision_recall_figure(y_test, scores),
        "calibration": plots.calibration_figure(y_test, {"LightGBM": p_test}),
        "gain_lift": plots.gain_lift_figure(y_test, scores),
        "importance": plots.importance_figure(
            list(model.feature_names_in_),
            model.gain_importance().reindex(model.feature_names_in_).to_numpy(),
            shap.to_numpy(),
        ),
    }
    bundle = ScoringBundle(
        transition=transition,
        model=model,
        rules=rules,
        feature_names=features,
        metrics=metrics,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        data_fingerprint=fingerprint(frame),
    )
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
    example_rows = flat_rows(_example_payloads(history, test.head(2)))
    champion = tracking.load_bundle(transition)
    decision = promotion_decision(
        y_test,
        p_test,
        champion,
        test[features],
        override=promote,
        baseline_auc=metrics["baseline"].get("roc_auc"),
    )
    params = {
        "transition": transition,
        "seed": seed,
        "horizon_days": training_set.manifest.get("horizon_days"),
        "n_features": len(features),
        "best_iteration": model.best_iteration_,
        "calibration": model.calibration_["chosen"],
        "rules_threshold": rules.threshold,
        **{f"split.{k}": v for k, v in split.describe().items()},
        **{f"model.{k}": v for k, v in model.get_params().items()},
    }
    documents = {
        "training_set_manifest": training_set.manifest,
        "calibration": model.calibration_,
        "mean_abs_shap": shap.sort_values(ascending=False).head(50).to_dict(),
        "monitoring_reference": reference,
    }
    if import_report is not None:
        documents["import_report"] = import_report
        params["import.leaky_fields"] = _leaky_listing(import_report)
    run_id, version = tracking.log_training_run(
        bundle,
        run_name=f"{transition}-{bundle.trained_at}",
        params=params,
        metrics=flatten_metrics(metrics),
        figures=figures,
        documents=documents,
        input_example=example_rows,
    )
    tracking.promote(transition, version, run_id, decision)
    say(f"[{transition}] registered version {version}: {decision['reason']}")
    return TransitionResult(
        transition=transition,
        metrics=metrics,
        split=split.describe(),
        run_id=run_id,
        version=version,
        promotion=decision,
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
