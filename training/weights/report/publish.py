"""The weights report run: write report.html, learned_rules.yaml and weights.json, log to MLflow.

The only module of the report with side effects. What it writes comes from pure modules:
``training.weights.report.html`` (the page), ``training.weights.report.figures`` (the figures),
``training.weights.report.tables`` (the HTML tables) and ``training.weights.report.text`` (the
CLI summary and the learned rules file). Their public names are re-exported here so callers keep
importing from ``training.weights.report.publish``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.paths import output_folder, writing
from features.build import TrainingSet
from features.history import LeadHistory
from training import tracking
from training.model import LeadConversionModel
from training.rules import HandSetRules
from training.weights.compare import WeightsComparison, compare_weights
from training.weights.report.figures import capacity_plot, figures, uncovered_plot, weights_plot
from training.weights.report.html import TRANSITION_TITLES, render_html
from training.weights.report.tables import capacity_table, rules_table, uncovered_table
from training.weights.report.text import learned_rules_text, summary_text

__all__ = [
    "REPORT_FILES",
    "TRANSITION_TITLES",
    "WeightsReport",
    "capacity_plot",
    "capacity_table",
    "figures",
    "learned_rules_text",
    "render_html",
    "rules_table",
    "run_weights_report",
    "summary_text",
    "uncovered_plot",
    "uncovered_table",
    "weights_plot",
    "write_weights_report",
]

REPORT_FILES = ("report.html", "learned_rules.yaml", "weights.json")


@dataclass(frozen=True)
class WeightsReport:
    """Attributes:
    comparison: what was computed; files: report.html, learned_rules.yaml, weights.json;
    run_id: the MLflow run, or None when not logged.
    """

    comparison: WeightsComparison
    files: dict[str, Path]
    run_id: str | None


def write_weights_report(
    comparison: WeightsComparison,
    out_dir: Path,
    *,
    log_to_mlflow: bool = True,
    progress: Callable[[str], None] | None = None,
) -> WeightsReport:
    """Write report.html, learned_rules.yaml and weights.json into ``out_dir`` and log them to
    MLflow (the caller has run ``tracking.configure``). The only side effects of this module."""
    say = progress or (lambda _message: None)
    transition = comparison.transition
    out_dir = output_folder(out_dir)
    data = comparison.to_dict()
    files = {name: out_dir / name for name in REPORT_FILES}
    say(f"[{transition}] writing {', '.join(REPORT_FILES)} to {out_dir}")
    texts = {
        "report.html": render_html(data),
        "learned_rules.yaml": learned_rules_text(data),
        "weights.json": json.dumps(data, indent=2),
    }
    for name, text in texts.items():
        with writing(files[name]):
            files[name].write_text(text, encoding="utf-8")
    run_id = None
    if log_to_mlflow:
        run_id = tracking.log_weights_run(
            run_name=f"weights-{transition}-{datetime.now(UTC).isoformat(timespec='seconds')}",
            params={
                "transition": transition,
                "seed": comparison.settings["seed"],
                "bootstrap": comparison.settings["bootstrap"],
                "threshold": comparison.threshold,
                "threshold_key": comparison.threshold_key,
                "capacity_per_month": round(comparison.capacity_per_month, 2),
                "capacity_is_default": comparison.capacity_is_default,
                "scale_method": comparison.scale_method,
                "model": comparison.settings["model"],
            },
            metrics=_metrics(comparison),
            tags={"transition": transition},
            files=list(files.values()),
        )
        say(f"[{transition}] logged to MLflow run {run_id}")
    return WeightsReport(comparison=comparison, files=files, run_id=run_id)


def run_weights_report(
    history: LeadHistory,
    rules: HandSetRules,
    out_dir: Path,
    *,
    transition: str = "mql_to_sql",
    capacity_per_month: float | None = None,
    seed: int = 7,
    bootstrap: int = 200,
    model: LeadConversionModel | None = None,
    horizon_days: int = 90,
    training_set: TrainingSet | None = None,
    log_to_mlflow: bool = True,
    progress: Callable[[str], None] | None = None,
) -> WeightsReport:
    """``compare_weights`` then ``write_weights_report``: what ``leadscore weights`` runs."""
    say = progress or (lambda _message: None)
    say(f"[{transition}] comparing hand-set and learned points")
    comparison = compare_weights(
        history,
        rules,
        transition=transition,
        capacity_per_month=capacity_per_month,
        seed=seed,
        bootstrap=bootstrap,
        model=model,
        horizon_days=horizon_days,
        training_set=training_set,
        progress=progress,
    )
    return write_weights_report(comparison, out_dir, log_to_mlflow=log_to_mlflow, progress=progress)


def _metrics(comparison: WeightsComparison) -> dict[str, float]:
    """Numbers to compare runs in MLflow: scale, flags, points per rule, capacity results."""
    metrics = {
        "scale": comparison.scale,
        "learned_threshold": comparison.learned_threshold,
        "rules_flagged": float(sum(r.flagged for r in comparison.rules)),
    }
    for rule in comparison.rules:
        metrics[f"learned_points.{rule.name}"] = rule.learned_points
    for row in comparison.capacity:
        key = row.method.replace(" ", "_").replace("-", "_")
        for name in ("conversions_at_capacity", "extra_conversions", "roc_auc", "conversions"):
            value = getattr(row, name)
            if value == value:  # not NaN
                metrics[f"capacity.{key}.{name}"] = float(value)
    return metrics
