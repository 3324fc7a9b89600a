"""The learned rules file: the team's hand-set rules with learned points and threshold, and its
text exactly as ``training.rules.dump_rules`` writes it. Kept apart so the export (what a team
adopts) has one place, used by ``training.weights.compare`` and ``training.weights.results``; pure.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from training.rules import HandSetRules, dump_rules

POINTS_DECIMALS = 1


def rules_yaml(rules: HandSetRules) -> str:
    """The rules file text exactly as ``dump_rules`` writes it (it writes only to paths)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.yaml"
        dump_rules(rules, path)
        return path.read_text(encoding="utf-8")


def learned_rules_file(
    rules: HandSetRules,
    learned_points: np.ndarray,
    threshold: float,
    threshold_key: str = "threshold",
) -> HandSetRules:
    """The team's rules with learned points; caps scale with the points so the same number of
    touches saturates. A rule learned at 0 points keeps its old cap, ready to be re-weighted.
    ``threshold`` replaces the file's ``threshold_key`` (the one the comparison judged), so an
    SQL -> won comparison leaves the hand-over threshold as it was."""
    updated = []
    for rule, new in zip(rules.rules, learned_points, strict=True):
        update: dict[str, Any] = {"points": float(new)}
        cap = getattr(rule, "cap", None)
        if cap is not None and rule.points != 0 and new != 0:
            scaled = cap / abs(rule.points) * abs(float(new))
            update["cap"] = max(round(scaled, POINTS_DECIMALS + 1), 10.0 ** -(POINTS_DECIMALS + 1))
        updated.append(rule.model_copy(update=update))
    learned = rules.model_copy(update={"rules": updated, threshold_key: float(threshold)})
    return HandSetRules.model_validate(
        learned.model_dump(exclude_none=True)
    )  # as load_rules checks
