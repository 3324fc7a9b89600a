"""What a flat-export training run prints: the plain-text summary and the ``--json`` object."""

from __future__ import annotations

import math

from training.flat.run import FlatResult

_SUMMARY_ROWS: tuple[tuple[str, str], ...] = (
    ("ROC-AUC", "roc_auc"),
    ("PR-AUC", "pr_auc"),
    ("lift, top 10 %", "lift_10"),
    ("lift, top 20 %", "lift_20"),
    ("capture, top 10 %", "capture_10"),
    ("capture, top 20 %", "capture_20"),
    ("log loss", "log_loss"),
    ("Brier score", "brier"),
    ("calibration error (ECE)", "ece"),
    ("base rate", "base_rate"),
)


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else f"{value:,}"


def flat_summary(result: FlatResult) -> str:
    """A short plain-text table: rows, split, columns, test metrics, registered version."""
    s, r = result.split, result.rows
    aside = sum(v for k, v in r.items() if k.startswith("set_aside."))
    lines = [
        f"{result.model_name} version {result.version} "
        f"({'champion' if result.is_champion else 'challenger'}), run {result.run_id}",
        f"  rows: {r['read']:,} read, {r['used']:,} used, {aside:,} set aside",
        f"  split ({s['method']}): train {s['train_rows']:,}, validation "
        f"{s['validation_rows']:,}, test {s['test_rows']:,}",
        f"  columns: {len(result.plan.features)} used, {len(result.plan.dropped)} dropped"
        + (
            f", leaky allowed: {', '.join(x.column for x in result.leaks_allowed)}"
            if result.leaks_allowed
            else ""
        ),
        *(f"  dates in {name}: {fmt.describe()}" for name, fmt in result.plan.date_formats),
        *(
            f"  suspect column {x.column}: {x.evidence}"
            + (" (dropped)" if result.suspects_dropped else " (kept; --drop-suspects drops it)")
            for x in result.suspects
        ),
        f"  {'test metric':<26}{'LightGBM':>10}",
    ]
    lines += [f"  {name:<26}{_fmt(result.metrics.get(key)):>10}" for name, key in _SUMMARY_ROWS]
    lines.append(f"  promotion: {result.promotion.get('reason', '')}")
    return "\n".join(lines)


def flat_json(result: FlatResult) -> dict:
    """The ``--json`` object: test metrics at the top level (NaN as null), plus where to find
    the model."""
    metrics = {
        k: None if isinstance(v, float) and math.isnan(v) else v for k, v in result.metrics.items()
    }
    return {
        **metrics,
        "registered_model": result.model_name,
        "version": result.version,
        "run_id": result.run_id,
        "champion": result.is_champion,
        "promotion_reason": result.promotion.get("reason"),
        "split": result.split,
        "rows_set_aside": {k: v for k, v in result.rows.items() if k.startswith("set_aside.")},
        "dropped_columns": result.plan.dropped,
        "date_formats": {name: fmt.describe() for name, fmt in result.plan.date_formats},
        "leaky_columns_allowed": [x.column for x in result.leaks_allowed],
        "suspect_columns": {x.column: x.evidence for x in result.suspects},
        "suspects_dropped": result.suspects_dropped,
    }
