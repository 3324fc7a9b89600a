"""The champion gate: may a new version of a model replace the one being served?

Pure verdicts on test ROC-AUCs measured on the same rows. A later version must beat the
champion; a first version must beat the hand-set rules (when there are rules) and chance, so a
model that ranks leads worse than what a team uses today never starts serving unasked. The
calibrated hand-set score (the floor for too few conversions) is those rules, so it may serve
first.
``--promote/--no-promote`` overrides the verdict, and the reason keeps what the gate said.
``training.run`` and ``training.flat.run`` record the decision in MLflow and print it.
"""

from __future__ import annotations

import math

CHANCE_AUC = 0.5
FORCE_HINT = "stays challenger (leadscore train --promote forces it)"


def first_version(model_auc: float, baseline_auc: float | None) -> tuple[bool, str]:
    """(promote?, why) for a model's first version: its test ROC-AUC against the hand-set
    rules' on the same rows (None or NaN when there are no rules) and against chance."""
    bars = {"chance": CHANCE_AUC}
    if baseline_auc is not None and not math.isnan(baseline_auc):
        bars = {"hand-set rules AUC": float(baseline_auc), "chance": CHANCE_AUC}
    for name, bar in bars.items():
        if not model_auc > bar:
            return False, (
                f"no champion yet, but model AUC {model_auc:.4f} <= {name} {bar:.4f} "
                "on the same test rows"
            )
    beaten = " and ".join(f"{name} {bar:.4f}" for name, bar in bars.items())
    return True, f"no champion yet; model AUC {model_auc:.4f} > {beaten} on the same test rows"


def rules_only_version(challenger_auc: float, champion_auc: float | None) -> tuple[bool, str]:
    """(promote?, why) for the calibrated hand-set score (too few conversions to learn from,
    or no correction of the rules held up on validation). It ranks leads as the rules do, so
    without a champion it serves (the team's own rules, now as probabilities); a champion is
    replaced only when beaten on the same test rows, as any challenger."""
    if champion_auc is None:
        return True, (
            "no champion yet; the model is your hand-set rules calibrated to probabilities, "
            "so it ranks leads as they do"
        )
    if math.isnan(challenger_auc):
        return False, "the test rows hold one outcome only: no ROC-AUC to compare with the champion"
    return against_champion(challenger_auc, champion_auc)


def against_champion(challenger_auc: float, champion_auc: float) -> tuple[bool, str]:
    """(promote?, why) for a later version: its test ROC-AUC against the champion's, both
    scored now on the same test rows."""
    better = challenger_auc > champion_auc
    return better, (
        f"challenger AUC {challenger_auc:.4f} {'>' if better else '<='} "
        f"champion AUC {champion_auc:.4f} on the same test rows"
    )


def decide(
    verdict: tuple[bool, str],
    override: bool | None,
    *,
    challenger_auc: float,
    champion_auc: float | None = None,
    baseline_auc: float | None = None,
) -> dict:
    """The decision to record: ``promote``, ``reason`` and the AUCs compared. ``override``
    (``--promote`` True, ``--no-promote`` False) wins over the verdict."""
    promote, reason = verdict
    if override is not None:
        forced = "forced by --promote" if override else "held back by --no-promote"
        promote, reason = override, f"{forced} (the gate alone: {reason})"
    elif not promote:
        reason = f"{reason}; {FORCE_HINT}"
    return {
        "promote": promote,
        "reason": reason,
        "challenger_auc": challenger_auc,
        "champion_auc": champion_auc,
        "baseline_auc": baseline_auc,
    }
