"""The comparison table a training run ends with: LightGBM on your rules, plain LightGBM and the
hand-set baseline, same test rows, and which of them serves."""

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
        if result.choice:
            lines.append(f"  serves: {result.choice['reason']}")
        columns = _columns(result)
        lines.append(f"  {'metric':<26}" + "".join(f"{top:>12}" for top, _, _ in columns).rstrip())
        lines.append(f"  {'':<26}" + "".join(f"{bottom:>12}" for _, bottom, _ in columns))
        for label, _, key in _ROWS:
            values = [_fmt(m.get(column, {}).get(key)) for _, _, column in columns]
            lines.append(f"  {label:<26}" + "".join(f"{value:>12}" for value in values))
        at = m.get("at_threshold", {})
        served = _served_column(result)
        lines.append(
            f"  at the hand-set threshold ({at.get('selected', 0):,} leads selected by each; "
            "the served model):"
        )
        for label in ("precision", "recall"):
            cells = [
                _fmt(at.get(f"baseline_{label}"))
                if column == "baseline"
                else _fmt(at.get(f"model_{label}"))
                if column == served
                else "-"
                for _, _, column in columns
            ]
            lines.append(f"  {label:<26}" + "".join(f"{cell:>12}" for cell in cells))
        if "oracle" in m:
            lines.append(
                f"  oracle ROC-AUC (simulator truth) {m['oracle']['roc_auc']:.3f}; "
                f"model gap {m['oracle']['gap']:.3f}"
            )
        lines.append(f"  promotion: {result.promotion.get('reason', '')}")
    return "\n".join(lines)


def _columns(result: TransitionResult) -> list[tuple[str, str, str]]:
    """(header, second header line, metrics key) of each column: the model on your rules,
    the rules alone when they serve beside a model on the rules that was not chosen, plain
    LightGBM and the hand-set points."""
    alone = result.choice.get("with_rules_trees") == 0
    columns = [("your rules", "alone" if alone else "+ LightGBM", "with_rules")]
    if result.choice.get("kind") == "rules_only" and not alone:
        columns.append(("your rules", "alone", "model"))
    return [*columns, ("", "LightGBM", "plain"), ("", "hand-set", "baseline")]


def _served_column(result: TransitionResult) -> str:
    """The column of the model that serves."""
    kind = result.choice.get("kind")
    if kind == "plain":
        return "plain"
    if kind == "rules_only" and result.choice.get("with_rules_trees") != 0:
        return "model"
    return "with_rules"
