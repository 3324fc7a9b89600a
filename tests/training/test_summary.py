"""The table a training run ends with: the model on your rules, plain LightGBM and the hand-set
points side by side, and which of them serves."""

from __future__ import annotations

from training.run import TransitionResult
from training.split import SkippedTransition
from training.summary import comparison_table, results_json

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


def _gated(promotion: dict, **at) -> TransitionResult:
    result = _result("with_rules", 14)
    result.promotion = promotion
    result.metrics["at_threshold"].update(at)
    return result


def _text(result: TransitionResult) -> str:
    """The table with its wrapped lines joined again."""
    return " ".join(line.strip() for line in comparison_table([result]).splitlines())


def test_a_first_version_that_became_champion_says_why_and_what_replaces_it():
    header = comparison_table([_result("with_rules", 14)]).splitlines()[1]
    assert header.startswith("sql_to_won: test rows 296") and "champion" not in header
    text = _text(
        _gated(
            {
                "promote": True,
                "reason": "no champion yet; model AUC 0.7010 > hand-set rules AUC 0.6550 and "
                "chance 0.5000 on the same test rows",
                "challenger_auc": 0.701,
                "champion_auc": None,
                "baseline_auc": 0.655,
            }
        )
    )
    assert (
        "leadscore-sql-to-won version 3 is the champion (it serves): it is the first version, "
        "so there was no champion to beat, and its test ROC-AUC 0.701 beats the hand-set rules "
        "(0.655) and chance (0.5) on the same test rows." in text
    )
    assert "A later run replaces it only with a version whose test ROC-AUC beats this one's" in text
    assert "promotion: no champion yet" not in text  # the gate's shorthand is not repeated


def test_a_first_version_held_back_says_nothing_serves_and_how_to_force_it():
    text = _text(
        _gated(
            {
                "promote": False,
                "reason": "no champion yet, but model AUC 0.6400 <= hand-set rules AUC 0.6550",
                "challenger_auc": 0.64,
                "champion_auc": None,
                "baseline_auc": 0.655,
            }
        )
    )
    assert "version 3 stays challenger and nothing serves sql_to_won yet" in text
    assert "leadscore train --promote makes it champion anyway" in text


def test_a_later_version_that_loses_leaves_the_champion_serving():
    promotion = {"promote": False, "reason": "challenger AUC 0.6 <= champion AUC 0.7"}
    text = _text(_gated({**promotion, "challenger_auc": 0.6, "champion_auc": 0.7}))
    assert "stays challenger and the champion keeps serving" in text
    assert "the champion's ROC-AUC is 0.700, this version's 0.600" in text


def test_the_head_to_head_names_the_stage_threshold_it_used():
    result = _gated({"promote": True, "reason": "r"}, threshold=100.0)
    result.threshold_key = "sql_to_won_threshold"
    text = _text(result)
    assert (
        "at the rules' SQL -> won threshold (sql_to_won_threshold: 100 points), each picks the "
        "same 57 of 296 test leads" in text
    )
    assert "compare little" not in text  # 57 of 296 is a real choice


def test_a_threshold_that_passes_nearly_every_lead_is_called_out():
    result = _gated({"promote": True, "reason": "r"}, threshold=35.0, selected=294)
    text = _text(result)
    assert "the hand-over threshold (threshold: 35 points; the rules file sets no" in text
    assert "passes nearly every test lead, so these rows compare little" in text
    assert "set sql_to_won_threshold in the rules file" in text


def test_a_skipped_transition_is_named_with_its_counts_in_the_table_and_the_json():
    reason = (
        "sql_to_won: too few rows to train and test a model; converted/not converted rows per "
        "part of the split: train and validation 0/140 (needs 2/2); more history is needed"
    )
    skipped = SkippedTransition(
        "sql_to_won", reason, {"train and validation": (0, 140)}, {"train and validation": 2}
    )
    trained = _result("with_rules", 12)
    trained.transition = "mql_to_sql"
    text = comparison_table([trained], [skipped])
    assert text.index("mql_to_sql: test rows") < text.index("sql_to_won: not trained")
    said = " ".join(line.strip() for line in text.splitlines())
    assert f"sql_to_won: not trained {reason}." in said
    assert "This run registered no version of leadscore-sql-to-won" in said
    assert results_json([trained], [skipped]) == {
        "mql_to_sql": trained.metrics,
        "sql_to_won": {
            "skipped": reason,
            "counts": {"train and validation": [0, 140]},
            "needs": {"train and validation": 2},
        },
    }
    assert "not trained" not in comparison_table([trained])  # nothing skipped: as before
