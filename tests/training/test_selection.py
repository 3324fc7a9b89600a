"""Which model serves: LightGBM on the rules, plain LightGBM or the rules alone, chosen on the
validation rows with the rules preferred; the floor below a minimum of conversions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.selection import choose_model, describe_model, rules_only

FAST = {"n_estimators": 300, "min_child_samples": 20, "early_stopping_rounds": 20}
FEATURES = ["seen", "missed", "noise"]


def _leads(n: int, seed: int, *, rules_know: float, missed: float) -> pd.DataFrame:
    """Leads whose outcome depends on ``seen`` and ``missed``; the hand-set points follow
    ``seen`` with weight ``rules_know`` (0: the rules are noise)."""
    rng = np.random.default_rng(seed)
    seen, other = rng.normal(size=n), rng.normal(size=n)
    points = np.round(20 * (rules_know * seen + (1 - rules_know) * rng.normal(size=n)))
    logit = -1.0 + 1.0 * seen + missed * other
    return pd.DataFrame(
        {
            "seen": seen,
            "missed": other,
            "noise": rng.random(n),
            "hand_set_points": points,
            "label": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )


def _choose(frame: pd.DataFrame, **kwargs):
    cut = int(len(frame) * 0.8)
    return choose_model(
        frame.iloc[:cut], frame.iloc[cut:], features=FEATURES, model_params=FAST, **kwargs
    )


def test_few_leads_whose_rules_say_it_all_get_the_rules_not_plain_lightgbm():
    choice = _choose(_leads(400, 1, rules_know=1.0, missed=0.0))
    assert choice.kind in {"rules_only", "with_rules"}
    assert choice.model.prior_ is not None and choice.plain.prior_ is None
    assert choice.reason.startswith(describe_model(choice.model))
    names = [c["name"] for c in choice.decision["candidates"]]
    assert names == ["plain LightGBM", "your rules alone", "rules prior at 1", "rules prior at 0.5"]
    assert all(c["validation_log_loss"] > 0 for c in choice.decision["candidates"])


def test_rules_alone_when_chosen_are_calibrated_on_training_and_validation_rows():
    frame = _leads(300, 2, rules_know=1.0, missed=0.0)
    choice = _choose(frame[["hand_set_points", "label"]].assign(seen=0.0, missed=0.0, noise=0.0))
    assert choice.kind == "rules_only" and choice.model.booster_ is None
    assert choice.model.prior_.rows == len(frame)
    assert f"calibrated on {len(frame):,} rows" in choice.reason


def test_a_signal_the_rules_miss_is_corrected_by_trees_on_the_rules():
    choice = _choose(_leads(6000, 3, rules_know=1.0, missed=1.2))
    assert choice.kind == "with_rules"
    assert choice.model is choice.with_rules and choice.model.best_iteration_ > 0


def test_rules_that_say_nothing_leave_the_trees_to_learn_it_all():
    choice = _choose(_leads(6000, 4, rules_know=0.0, missed=1.0))
    assert choice.kind == "with_rules"
    assert abs(choice.model.prior_.slope) < 0.005  # the prior is about the base rate
    assert choice.model.best_iteration_ > 20


def test_rules_that_mislead_on_validation_give_way_to_plain_lightgbm():
    """Points that stopped meaning what they meant (the newer, validation rows score the
    opposite way): the model on the rules is wrong there by far more than noise."""
    frame = _leads(6000, 4, rules_know=1.0, missed=1.0)
    newer = frame.index >= int(len(frame) * 0.8)
    frame.loc[newer, "hand_set_points"] = -frame.loc[newer, "hand_set_points"]
    choice = _choose(frame)
    assert choice.kind == "plain" and choice.model is choice.plain
    assert choice.reason.startswith("plain LightGBM: validation log loss")
    assert "standard errors" in choice.reason


@pytest.mark.parametrize(("prior", "kinds"), [("off", {"plain"}), ("on", {"with_rules"})])
def test_the_prior_can_be_forced_off_or_on(prior, kinds):
    choice = _choose(_leads(6000, 4, rules_know=0.0, missed=1.0), prior=prior)
    assert choice.kind in kinds
    assert f"the rules prior is {prior}" in choice.reason
    assert (choice.with_rules is None) == (prior == "off")


def test_an_unknown_prior_mode_is_refused():
    with pytest.raises(ValueError, match="prior must be one of auto, on, off"):
        _choose(_leads(300, 5, rules_know=1.0, missed=0.0), prior="maybe")


def test_the_floor_is_the_rules_calibrated_on_every_row_with_the_reason():
    frame = _leads(120, 6, rules_know=1.0, missed=0.0)
    choice = rules_only(frame, features=FEATURES, why="12 converted rows, fewer than the 20")
    assert choice.kind == "rules_only" and choice.plain is None
    assert choice.model.booster_ is None and choice.model.prior_.rows == 120
    assert choice.reason.endswith(": 12 converted rows, fewer than the 20")
    assert choice.decision["prior"] == "floor"
