"""The comparison table a training run ends with: model vs hand-set baseline, same test rows."""

from __future__ import annotations

import math

from training.run import TransitionResult

_ROWS: tuple[tuple[str, str, str], ...] = (
    ("ROC-AUC", "model", "roc_auc"),
    ("PR-AUC", "model", "pr_auc"),
    ("lift, top 10 %", "model", "lift_10"),
    ("lift, top 20 %", "model", "lift_20"),
    ("capture, top 10 %", "model", "capture_10"),
    ("capture, top 20 %", "model", "capture_20"),
    ("log loss", "model", "log_loss"),
    ("Brier score", "model", "brier"),
    ("calibration error (ECE)", "model", "ece"),
)


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def comparison_table(results: list[TransitionResult]) -> str:
    """A plain-text table, one block per transition."""
    lines = []
    for result in results:
        m = result.metrics
        lines.append(
            f"\n{result.transition}: test rows {result.split['test_rows']:,} "
            f"(from {result.split['test_from'][:10]}), base rate "
            f"{_fmt(m['model'].get('base_rate'))}; registered version {result.version}, "
            f"{'champion' if result.promotion.get('promote') else 'challenger'}"
        )
        lines.append(f"  {'metric':<26}{'LightGBM':>10}{'hand-set':>10}")
        for label, _, key in _ROWS:
            lines.append(
                f"  {label:<26}{_fmt(m['model'].get(key)):>10}{_fmt(m['baseline'].get(key)):>10}"
            )
        at = m.get("at_threshold", {})
        lines.append(
            f"  at the hand-set threshold ({at.get('selected', 0):,} leads selected by each):"
        )
        lines.append(
            f"  {'precision':<26}{_fmt(at.get('model_precision')):>10}"
            f"{_fmt(at.get('baseline_precision')):>10}"
        )
        lines.append(
            f"  {'recall':<26}{_fmt(at.get('model_recall')):>10}"
            f"{_fmt(at.get('baseline_recall')):>10}"
        )
        if "oracle" in m:
            lines.append(
                f"  oracle ROC-AUC (simulator truth) {m['oracle']['roc_auc']:.3f}; "
                f"model gap {m['oracle']['gap']:.3f}"
            )
        lines.append(f"  promotion: {result.promotion.get('reason', '')}")
    return "\n".join(lines)
