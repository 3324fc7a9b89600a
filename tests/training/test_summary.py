"""The table a training run ends with: the model on your rules, plain LightGBM and the hand-set
points side by side, and which of them serves."""

from __future__ import annotations

from training.run import TransitionResult
from training.summary import comparison_table

SPLIT = {"test_rows": 296, "test_from": "2025-07-03T00:00:00"}


def _result(kind: str, with_rules_trees: int | None, **extra) -> TransitionResult:
    metrics = {
        "model": {"roc_auc": 0.655, "base_rate": 0.179, "log_loss": 0.442},
        "with_rules": {"roc_auc": 0.701, "log_loss": 0.431, "lift_10": 3.1},
        "plain": {"roc_auc": 0.663, "log_loss": 0.443, "lift_10": 2.05},
        "baseline": {"roc_auc": 0.655, "lift_10": 2.98},
        "at_threshold": {"selected": 57, "model_precision": 0.4, "baseline_precision": 0.3},
        **extra,
    }
    return TransitionResult(
        "sql_to_won",
        metrics,
        SPLIT,
        version="3",
        promotion={"promote": True, "reason": "a reason"},
        choice={"kind": kind, "reason": "why it serves", "with_rules_trees": with_rules_trees},
    )


def _row(text: str, label: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.strip().startswith(label))
    return line[len("  ") + 26 :].split()


def test_the_model_on_your_rules_plain_lightgbm_and_hand_set_stand_side_by_side():
    text = comparison_table([_result("with_rules", 14)])
    assert "serves: why it serves" in text
    assert "your rules" in text and "+ LightGBM" in text and "hand-set" in text
    assert _row(text, "ROC-AUC") == ["0.701", "0.663", "0.655"]
    assert _row(text, "lift, top 10 %") == ["3.100", "2.050", "2.980"]
    assert _row(text, "log loss") == ["0.431", "0.443", "-"]  # points have no log loss
    assert _row(text, "precision") == ["0.400", "-", "0.300"]  # the served model's column


def test_the_rules_alone_get_their_own_column_when_they_serve_beside_a_model_on_them():
    text = comparison_table([_result("rules_only", 14)])
    assert _row(text, "ROC-AUC") == ["0.701", "0.655", "0.663", "0.655"]
    assert _row(text, "log loss") == ["0.431", "0.442", "0.443", "-"]
    assert _row(text, "precision") == ["-", "0.400", "-", "0.300"]


def test_the_floor_shows_the_calibrated_rules_and_no_learned_model():
    result = _result("rules_only", 0)
    del result.metrics["plain"]
    text = comparison_table([result])
    assert "alone" in text.splitlines()[4]
    assert _row(text, "ROC-AUC") == ["0.701", "-", "0.655"]
    assert _row(text, "precision") == ["0.400", "-", "0.300"]
