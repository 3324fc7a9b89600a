"""One training run from a flat table (one row per lead): the input checks (``checks``), then
fit, evaluate on the test rows, plot, gate, log and register (``summary`` prints it).

This is the only module of that path that orders side effects; the steps it calls are pure
(``table``, ``model``, ``evaluate``, ``plots``) and MLflow stays in ``tracking``. Every
input check runs before anything is fitted or logged, so bad input leaves no half-made run.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from core.progress import Progress, counted
from training import gate, plots, tracking
from training.evaluate import evaluate_scores, flatten_metrics
from training.flat.checks import FlatInputs, check_table, without_suspects
from training.flat.table import (
    ColumnPlan,
    FlatScorer,
    FlatSplit,
    Leak,
    flat_features,
    gain_suspect,
)
from training.model import LeadConversionModel

SHAP_SAMPLE_ROWS = 5_000
EXAMPLE_ROWS = 3
PARAM_CHARS = 1_000  # MLflow caps a param value; the full lists go to column_plan.json


@dataclass
class FlatResult:
    """Attributes:
    label: the label column; source: the table's path.
    metrics: test metrics of the model (``evaluate_scores`` keys).
    plan: how each column was used or why it was dropped.
    split: how rows were split, and the row count of each part.
    rows: rows read, rows used, and rows set aside per reason.
    leaks_allowed: leaky columns used because the caller allowed them by name.
    suspects: columns that nearly give the label away (one big near-pure value, or most of
        the model's gain); suspects_dropped: whether they were left out (``drop_suspects``).
    model_name, version, run_id: the registered model, its new version and the MLflow run.
    is_champion: whether the new version became ``champion``.
    promotion: the gate's decision (``training.gate``) with the reason.
    seconds: wall time of the whole run.
    """

    label: str
    source: str
    metrics: dict[str, float]
    plan: ColumnPlan
    split: dict
    rows: dict[str, int]
    leaks_allowed: list[Leak] = field(default_factory=list)
    suspects: list[Leak] = field(default_factory=list)
    suspects_dropped: bool = False
    model_name: str = ""
    version: str = ""
    run_id: str = ""
    is_champion: bool = False
    promotion: dict = field(default_factory=dict)
    seconds: float = 0.0


def flat_model_name(label: str) -> str:
    """``Converted?`` -> ``leadscore-flat-converted``: registry names stay plain."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    return f"leadscore-flat-{slug or 'label'}"


def _listing(items: Iterable[str]) -> str:
    text = ", ".join(items) or "none"
    return text if len(text) <= PARAM_CHARS else text[: PARAM_CHARS - 5] + " ..."


def _mean_abs_shap(model: LeadConversionModel, features: pd.DataFrame, seed: int) -> pd.Series:
    sample = features.sample(n=min(len(features), SHAP_SAMPLE_ROWS), random_state=seed)
    contributions = model.contributions(sample).drop(columns="bias")
    return contributions.abs().mean().reindex(model.feature_names_in_)


def _figures(
    y_test: np.ndarray, p_test: np.ndarray, model: LeadConversionModel, shap: pd.Series
) -> dict[str, Figure]:
    scores = {"LightGBM": p_test}
    return {
        "roc": plots.roc_figure(y_test, scores),
        "precision_recall": plots.precision_recall_figure(y_test, scores),
        "calibration": plots.calibration_figure(y_test, scores),
        "gain_lift": plots.gain_lift_figure(y_test, scores),
        "importance": plots.importance_figure(
            list(model.feature_names_in_),
            model.gain_importance().reindex(model.feature_names_in_).to_numpy(),
            shap.to_numpy(),
        ),
    }


def _params(
    path: Path,
    plan: ColumnPlan,
    row_counts: dict[str, int],
    allowed: list[Leak],
    suspects: list[Leak],
    drop_suspects: bool,
    split: FlatSplit,
    model: LeadConversionModel,
    seed: int,
) -> dict[str, object]:
    """Run parameters: the column plan in short (the full one is logged as column_plan.json),
    the rows set aside, the leaks allowed, the split and the model's settings."""
    return {
        "source_file": path.name,
        "label": plan.label,
        "label_mapping": json.dumps(plan.label_mapping)[:PARAM_CHARS],
        "id_column": plan.id_column or "none",
        "time_column": plan.time_column or "none",
        "seed": seed,
        **{f"rows.{k}": v for k, v in row_counts.items()},
        "n_features": len(plan.features),
        "columns.numeric": _listing(plan.of_kind("numeric")),
        "columns.categorical": _listing(plan.of_kind("categorical")),
        "columns.days_before": _listing(plan.of_kind("days_before")),
        "columns.dropped": _listing(f"{k} ({v})" for k, v in plan.dropped.items()),
        "columns.date_formats": _listing(f"{k} ({v.describe()})" for k, v in plan.date_formats),
        "leaks.allowed": _listing(f"{x.column} ({x.evidence})" for x in allowed),
        "leaks.suspects": _listing(f"{x.column} ({x.evidence})" for x in suspects),
        "leaks.suspects_dropped": drop_suspects,
        "best_iteration": model.best_iteration_,
        "calibration": model.calibration_["chosen"],
        **{f"split.{k}": v for k, v in split.describe().items()},
        **{f"model.{k}": v for k, v in model.get_params().items()},
    }


def train_from_table(
    path: Path | str,
    *,
    label: str,
    id_column: str | None = None,
    time_column: str | None = None,
    allow_leaky: Iterable[str] = (),
    seed: int = 7,
    dates: str | None = None,
    drop_suspects: bool = False,
    model_params: dict | None = None,
    promote: bool | None = None,
    progress: Progress | None = None,
    connect_tracking: Callable[[], None] | None = None,
) -> FlatResult:
    """Train, evaluate, log and register a model from one CRM export. MLflow must point at its
    store (``tracking.configure``) before the run logs: the caller has done it, or
    ``connect_tracking`` does it once the table passed its checks, so that a bad file fails
    before the store says anything. Bad input raises ``InputError``. ``promote``: force (True)
    or forbid (False) making the new version champion."""
    inputs = check_table(
        path,
        label=label,
        id_column=id_column,
        time_column=time_column,
        allow_leaky=allow_leaky,
        seed=seed,
        dates=dates,
        drop_suspects=drop_suspects,
    )
    if connect_tracking is not None:
        connect_tracking()
    return train_checked(
        inputs, seed=seed, model_params=model_params, promote=promote, progress=progress
    )


def train_checked(
    inputs: FlatInputs,
    *,
    seed: int = 7,
    model_params: dict | None = None,
    promote: bool | None = None,
    progress: Progress | None = None,
) -> FlatResult:
    """``train_from_table`` after ``check_table``: progress, training, the gate and logging."""
    say = progress or (lambda _: None)
    path, label, plan, rows, y = inputs.path, inputs.label, inputs.plan, inputs.rows, inputs.y
    frame, split, allowed = inputs.frame, inputs.split, inputs.allowed
    say(
        f"[{path.name}] {len(frame):,} rows, {len(rows):,} usable; {len(plan.features)} feature "
        f"columns, {len(plan.dropped)} dropped"
    )
    for name, fmt in plan.date_formats:
        say(f"  dates in {name}: read as {fmt.describe()}")
    for name, reason in plan.dropped.items():
        say(f"  dropped {name}: {reason}")
    for reason, count in inputs.set_aside.items():
        if count:
            say(f"  set aside {count:,} rows: {reason}")
    for leak in allowed:
        say(f"  using leaky column {leak.column} as allowed ({leak.evidence})")
    for suspect in inputs.suspects:
        say(f"  suspect column {suspect.column}: {suspect.evidence}{_fate(inputs.drop_suspects)}")
    features = flat_features(rows, plan)
    train, validation, test = split.train, split.validation, split.test
    say(
        f"[{path.name}] training on {len(train):,} rows, early stopping on {len(validation):,}, "
        f"testing on {len(test):,} ({split.method} split)"
    )
    fit_started = time.perf_counter()
    model = _fit(features, y, split, seed, model_params, progress, path.name)
    suspects = list(inputs.suspects)
    leaning = gain_suspect(model.gain_importance())
    if leaning is not None and leaning.column not in {x.column for x in allowed}:
        suspects.append(leaning)
        say(f"  suspect column {leaning.column}: {leaning.evidence}{_fate(inputs.drop_suspects)}")
        if inputs.drop_suspects:
            plan = without_suspects(plan, [leaning])
            features = features.drop(columns=leaning.column)
            model = _fit(features, y, split, seed, model_params, progress, path.name)
    fit_seconds = time.perf_counter() - fit_started
    y_test, p_test = y[test], model.predict_proba(features.iloc[test])[:, 1]
    metrics = evaluate_scores(y_test, p_test, is_probability=True)
    say(f"[{path.name}] {model.best_iteration_} trees; test ROC-AUC {metrics['roc_auc']:.3f}")

    shap = _mean_abs_shap(model, features.iloc[test], seed)
    figures = _figures(y_test, p_test, model, shap)
    scorer = FlatScorer(plan=plan, model=model)
    input_example = rows.iloc[test][plan.input_columns].head(EXAMPLE_ROWS).reset_index(drop=True)
    row_counts = {
        "read": len(frame),
        "used": len(rows),
        **{f"set_aside.{k.replace(' ', '_')}": v for k, v in inputs.set_aside.items()},
    }
    params = _params(
        path, plan, row_counts, allowed, suspects, inputs.drop_suspects, split, model, seed
    )
    model_name = flat_model_name(label)
    decision = flat_promotion(
        metrics["roc_auc"], tracking.has_alias(model_name, tracking.CHAMPION), promote
    )
    trained_at = datetime.now(UTC).isoformat(timespec="seconds")
    run_id, version = tracking.log_flat_run(
        scorer.predict,
        model_name=model_name,
        run_name=f"flat-{label}-{trained_at}",
        params=params,
        metrics={**flatten_metrics({"model": metrics}), "fit_seconds": fit_seconds},
        figures=figures,
        documents={
            "column_plan": plan.to_dict(),
            "leaks": {
                "allowed": [vars(x) for x in allowed],
                "found": [vars(x) for x in inputs.leaks],
                "suspects": [vars(x) for x in suspects],
                "suspects_dropped": inputs.drop_suspects,
            },
            "rows": row_counts,
            "calibration": model.calibration_,
            "mean_abs_shap": shap.sort_values(ascending=False).head(50).to_dict(),
        },
        tags={"source": "flat_table", "label": label, "source_path": str(path)},
        input_example=input_example,
        decision=decision,
    )
    is_champion = decision["promote"]
    say(
        f"[{path.name}] registered {model_name} version {version} as "
        f"{'champion' if is_champion else 'challenger'}: {decision['reason']}"
    )
    return FlatResult(
        label=label,
        source=str(path),
        metrics=metrics,
        plan=plan,
        split=split.describe(),
        rows=row_counts,
        leaks_allowed=allowed,
        suspects=suspects,
        suspects_dropped=inputs.drop_suspects,
        model_name=model_name,
        version=version,
        run_id=run_id,
        is_champion=is_champion,
        promotion=decision,
        seconds=time.perf_counter() - inputs.started,
    )


def _fate(dropped: bool) -> str:
    return " (dropped)" if dropped else " (kept; --drop-suspects leaves it out)"


def _fit(
    features: pd.DataFrame,
    y: np.ndarray,
    split: FlatSplit,
    seed: int,
    params: dict | None,
    progress: Progress | None,
    name: str,
) -> LeadConversionModel:
    """LightGBM on the training rows, early-stopped on the validation rows; its boosting
    rounds as one counted step."""
    model = LeadConversionModel(random_state=seed, **(params or {}))
    train, validation = split.train, split.validation
    with counted(progress, f"[{name}] boosting", model.n_estimators, "trees") as step:
        return model.fit(
            features.iloc[train],
            y[train],
            eval_set=(features.iloc[validation], y[validation]),
            on_round=step,
        )


def flat_promotion(model_auc: float, has_champion: bool, override: bool | None) -> dict:
    """The gate for a flat export's model: a first version must beat chance on the test rows
    (a flat export has no hand-set rules to compare with). A later version stays challenger
    unless forced: the champion was tested on other rows, so their AUCs do not compare."""
    if has_champion:
        verdict = (False, "a champion exists and was tested on other rows")
    else:
        verdict = gate.first_version(model_auc, None)
    return gate.decide(verdict, override, challenger_auc=model_auc)
