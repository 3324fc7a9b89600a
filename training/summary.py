"""The comparison table a training run ends with: LightGBM on your rules, plain LightGBM and the
hand-set baseline, same test rows, which of them serves, and in plain words which registered
version serves now and what a later run needs to replace it."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

from training.gate import CHANCE_AUC
from training.run import TransitionResult
from training.split import SkippedTransition
from training.tracking import registered_name

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
# a threshold passing more (or fewer) than this share of the test leads compares little
_LITTLE_CHOICE = 0.05
_WIDTH = 96


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def comparison_table(
    results: list[TransitionResult], skipped: Sequence[SkippedTransition] = ()
) -> str:
    """A plain-text table, one block per transition trained, then a block per transition
    ``skipped`` (too few rows for even the calibrated hand-set score): why, and that nothing
    new serves it."""
    lines = []
    for result in results:
        m = result.metrics
        lines.append(
            f"\n{result.transition}: test rows {result.split['test_rows']:,} "
            f"(from {result.split['test_from'][:10]}), base rate "
            f"{_fmt(m['model'].get('base_rate'))}"
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
        lines += _threshold_heading(result)
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
        lines += _little_choice(result)
        if "oracle" in m:
            lines.append(
                f"  oracle ROC-AUC (simulator truth) {m['oracle']['roc_auc']:.3f}; "
                f"model gap {m['oracle']['gap']:.3f}"
            )
        lines += _wrapped(registry_text(result))
    for left_out in skipped:
        lines.append(f"\n{left_out.transition}: not trained")
        lines += _wrapped(
            f"{left_out.reason}. This run registered no version of "
            f"{registered_name(left_out.transition)}: a champion from an earlier run keeps "
            "serving; without one, the API answers 503 for the leads that need this transition."
        )
    return "\n".join(lines)


def results_json(
    results: list[TransitionResult], skipped: Sequence[SkippedTransition] = ()
) -> dict[str, dict]:
    """What ``leadscore train --json`` prints: per transition its test metrics, or for a
    transition skipped, ``{"skipped": reason, "counts": ..., "needs": ...}``."""
    out: dict[str, dict] = {r.transition: r.metrics for r in results}
    out.update({left_out.transition: left_out.describe() for left_out in skipped})
    return out


def _wrapped(text: str) -> list[str]:
    return textwrap.wrap(text, _WIDTH, initial_indent="  ", subsequent_indent="    ")


def _threshold_heading(result: TransitionResult) -> list[str]:
    """Which threshold the head-to-head rows use: the rules' own for this transition."""
    at = result.metrics.get("at_threshold", {})
    points = at.get("threshold")
    shown = f"{points:g} points" if isinstance(points, int | float) else "its points"
    if result.threshold_key == "sql_to_won_threshold":
        which = f"the rules' SQL -> won threshold (sql_to_won_threshold: {shown})"
    elif result.transition == "mql_to_sql":
        which = f"the hand-set threshold (threshold: {shown}, the hand-over to sales)"
    else:
        which = (
            f"the hand-over threshold (threshold: {shown}; the rules file sets no "
            f"{result.transition}_threshold)"
        )
    selected, rows = int(at.get("selected", 0)), result.split["test_rows"]
    return _wrapped(
        f"at {which}, each picks the same {selected:,} of {rows:,} test leads (the served model):"
    )


def _little_choice(result: TransitionResult) -> list[str]:
    """A warning when the threshold picks (nearly) every test lead or none: then the
    precision and recall rows compare little."""
    selected = int(result.metrics.get("at_threshold", {}).get("selected", 0))
    rows = result.split["test_rows"]
    if not rows or _LITTLE_CHOICE < selected / rows < 1 - _LITTLE_CHOICE:
        return []
    share = "nearly every" if selected / rows >= 1 - _LITTLE_CHOICE else "almost no"
    fix = (
        f"; set {result.transition}_threshold in the rules file to compare where sales chooses"
        if result.transition == "sql_to_won" and result.threshold_key == "threshold"
        else ""
    )
    return _wrapped(f"(the threshold passes {share} test lead, so these rows compare little{fix})")


def registry_text(result: TransitionResult) -> str:
    """Which version serves the transition now and why, and what replaces it: the champion
    gate's decision (``training.gate``) in words."""
    decision = result.promotion
    name, version = registered_name(result.transition), result.version
    reason = decision.get("reason", "")
    challenger = decision.get("challenger_auc")
    champion = decision.get("champion_auc")
    baseline = decision.get("baseline_auc")
    later = (
        "A later run replaces it only with a version whose test ROC-AUC beats this one's, "
        "both scored on that run's test rows (or with leadscore train --promote)."
    )
    if reason.startswith(("forced by --promote", "held back by --no-promote")):
        now = "is the champion (it serves)" if decision.get("promote") else "stays challenger"
        return f"{name} version {version} {now}: {reason}."
    if champion is None and not reason.startswith("no champion yet"):
        return f"{name} version {version}: {reason}."  # the old champion could not score
    if champion is None and "calibrated to probabilities" in reason:
        return (
            f"{name} version {version} is the champion (it serves): it is the first version, "
            "so there was no champion to beat, and it is your hand-set rules calibrated to "
            f"probabilities, ranking leads as they do. {later}"
        )
    if champion is None:  # the first version: no champion to beat, so the rules and chance
        bars = f"chance ({CHANCE_AUC:g})"
        if baseline is not None and not math.isnan(baseline):
            bars = f"the hand-set rules ({baseline:.3f}) and {bars}"
        if decision.get("promote"):
            return (
                f"{name} version {version} is the champion (it serves): it is the first "
                f"version, so there was no champion to beat, and its test ROC-AUC "
                f"{challenger:.3f} beats {bars} on the same test rows. {later}"
            )
        return (
            f"{name} version {version} stays challenger and nothing serves "
            f"{result.transition} yet: as the first version it had to beat {bars} on the same "
            f"test rows, and its test ROC-AUC is {challenger:.3f}. leadscore train --promote "
            "makes it champion anyway."
        )
    if decision.get("promote"):
        return (
            f"{name} version {version} is the new champion (it serves): its test ROC-AUC "
            f"{challenger:.3f} beats the previous champion's {champion:.3f}, both scored on "
            f"this run's test rows. {later}"
        )
    return (
        f"{name} version {version} stays challenger and the champion keeps serving: on this "
        f"run's test rows the champion's ROC-AUC is {champion:.3f}, this version's "
        f"{challenger:.3f}. leadscore train --promote makes it champion anyway."
    )


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
