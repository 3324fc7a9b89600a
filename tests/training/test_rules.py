"""The hand-set rules file and its scorer: loading, bad files, points, time boundary, parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.contract import ACTIONS, PAGE_TYPES, TABLES, dtype_of, empty_table
from core.errors import DataContractError, RulesFileError
from features.history import LeadHistory
from training.rules import (
    BehaviourRule,
    HandSetRules,
    TouchRule,
    default_rules_path,
    dump_rules,
    load_rules,
    score_leads,
)

AS_OF = pd.Timestamp("2024-06-01 12:00:00")
DAY = pd.Timedelta(days=1)


# --- small frames -----------------------------------------------------------------------------


def _table(table: str, rows: list[dict]) -> pd.DataFrame:
    """A table with the contract's columns and dtypes; keys left out of a row are missing."""
    if not rows:
        return empty_table(table)
    names = [c.name for c in TABLES[table]]
    frame = pd.DataFrame([{name: row.get(name) for name in names} for row in rows])
    for column in TABLES[table]:
        dtype = dtype_of(column)
        if dtype is not None:
            frame[column.name] = frame[column.name].astype(dtype)
    return frame


def _touch(lead_id: int, ago: pd.Timedelta, action: str, **fields: object) -> dict:
    row = {"lead_id": lead_id, "occurred_at": AS_OF - ago, "action": action, "channel": "web"}
    return row | fields


def _history(touches: list[dict], leads: list[dict] | None = None) -> LeadHistory:
    lead_rows = leads
    if lead_rows is None:
        ids = sorted({t["lead_id"] for t in touches} | {1})
        lead_rows = [{"lead_id": i, "created_at": AS_OF - 400 * DAY} for i in ids]
    return LeadHistory(
        leads=_table("leads", lead_rows),
        touches=_table("touches", touches),
        stage_changes=empty_table("stage_changes"),
    )


def _decision_points(*lead_ids: int, as_of: pd.Timestamp = AS_OF) -> pd.DataFrame:
    return pd.DataFrame({"lead_id": list(lead_ids or [1]), "as_of": as_of})


def _rules(
    *rules: dict, threshold: float = 35, half_life_days: float | None = None
) -> HandSetRules:
    return HandSetRules.model_validate(
        {"threshold": threshold, "half_life_days": half_life_days, "rules": list(rules)}
    )


def _score(rules: HandSetRules, touches: list[dict], **kwargs: object) -> pd.DataFrame:
    return score_leads(rules, _decision_points(), _history(touches, **kwargs)).points


QR = {"name": "qr_scan", "kind": "touch", "action": "qr_scan", "points": 5}


# --- the rules file ---------------------------------------------------------------------------


def test_default_rules_file_loads_with_threshold_35_and_the_domain_rules() -> None:
    rules = load_rules(default_rules_path())
    by_name = {rule.name: rule for rule in rules.rules}
    assert rules.threshold == 35
    assert by_name["newsletter_signup"].points == 7
    assert by_name["qr_scan"].points == 5
    assert isinstance(by_name["careers_page"], TouchRule)
    assert by_name["careers_page"].points < 0
    assert by_name["unsubscribe"].points < 0
    assert by_name["student"].points < 0
    compound = by_name["emails_and_product_pages_3d"]
    assert isinstance(compound, BehaviourRule)
    assert compound.window_days == 3
    assert len(compound.when_all) == 2


def test_default_rules_path_is_the_shipped_file_in_models() -> None:
    path = default_rules_path()
    assert path.is_file()
    assert path.parent.name == "models"
    assert path.name == "hand_set_rules.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _one_rule_file(rule: str) -> str:
    return f"threshold: 35\nrules:\n  - {rule}\n"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            "{name: careers_page, kind: touch, page_type: carrers, points: -10}",
            "rule 'careers_page': unknown page_type 'carrers'",
        ),
        (
            "{name: opens, kind: touch, action: email_opne, points: 1}",
            "unknown action 'email_opne'",
        ),
        ("{name: mails, kind: touch, channel: e-mail, points: 1}", "unknown channel 'e-mail'"),
        ("{name: qr, kind: touch, action: qr_scan, points: ten}", "rule 'qr': points:"),
        ("{name: qr, kind: touch, action: qr_scan, points: true}", "rule 'qr': points:"),
        ("{name: qr, kind: touch, action: qr_scan, points: 5, cap: -3}", "rule 'qr': cap:"),
        ("{name: qr, kind: touch, action: qr_scan, points: 5, window_days: 3d}", "window_days"),
        ("{name: qr, kind: touch, action: qr_scan, points: 5, window_days: 0}", "window_days"),
        ("{name: qr, kind: touch, action: qr_scan, points: 5, window_days: -7}", "window_days"),
        ("{name: qr, kind: touch, action: qr_scan, pointz: 5}", "unknown key 'pointz'"),
        ("{name: qr, kind: tuch, action: qr_scan, points: 5}", "unknown kind 'tuch'"),
        ("{name: qr, action: qr_scan, points: 5}", "rule 'qr': missing key 'kind'"),
        ("{name: any, kind: touch, points: 5}", "rule 'any': give at least one of"),
        (
            "{name: fit, kind: attribute, attribute: industri, values: [staffing], points: 5}",
            "rule 'fit': unknown attribute 'industri'",
        ),
        (
            "{name: fit, kind: attribute, attribute: industry, values: [stafing], points: 5}",
            "rule 'fit': unknown industry 'stafing'",
        ),
        (
            "{name: fit, kind: attribute, attribute: job_level, values: [intern], points: 5}",
            "rule 'fit': unknown job_level 'intern'",
        ),
        (
            "{name: size, kind: attribute, attribute: company_size, min: 500, max: 50, points: 5}",
            "rule 'size': min 500 is above max 50",
        ),
        (
            "{name: size, kind: attribute, attribute: company_size, values: [50], points: 5}",
            "rule 'size': company_size is a number",
        ),
        (
            "{name: b, kind: behaviour, window_days: 3, points: 5, "
            "when_all: [{action: email_open}]}",
            "rule 'b': when_all #1: give exactly one of more_than or at_most",
        ),
        (
            "{name: b, kind: behaviour, window_days: 3, points: 5, "
            "when_all: [{action: email_open, more_than: 2}, {page_type: prodct, more_than: 0}]}",
            "rule 'b': when_all #2: unknown page_type 'prodct'",
        ),
        (
            "{name: b, kind: behaviour, window_days: three, points: 5, "
            "when_all: [{action: email_open, more_than: 2}]}",
            "rule 'b': window_days:",
        ),
    ],
)
def test_invalid_rule_raises_rules_file_error_naming_rule_and_problem(
    tmp_path: Path, rule: str, expected: str
) -> None:
    with pytest.raises(RulesFileError, match="rule '") as caught:
        load_rules(_write(tmp_path, _one_rule_file(rule)))
    assert expected in str(caught.value)


def test_duplicate_rule_names_raise_rules_file_error(tmp_path: Path) -> None:
    text = (
        "threshold: 35\nrules:\n"
        "  - {name: qr, kind: touch, action: qr_scan, points: 5}\n"
        "  - {name: qr, kind: touch, action: email_open, points: 1}\n"
    )
    with pytest.raises(RulesFileError, match="rule 'qr': name used by 2 rules"):
        load_rules(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("threshold: 35\nrules:\n  - {name: qr, kind: touch\n", "not valid YAML: line"),
        (
            "threshold: 35\nrules:\n  - name: qr\n    kind: touch\n    action: qr_scan\n"
            "    points: 5\n    points: 7\n",
            "duplicate key 'points'",
        ),
        ("", "found an empty file"),
        (
            "threshold: high\nrules: [{name: qr, kind: touch, action: qr_scan, points: 5}]",
            "threshold",
        ),
        ("threshold: 35\nrules: []\n", "rules"),
    ],
)
def test_broken_file_raises_rules_file_error_naming_the_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(RulesFileError, match=str(path)) as caught:
        load_rules(path)
    assert expected in str(caught.value)


def test_missing_rules_file_raises_rules_file_error(tmp_path: Path) -> None:
    with pytest.raises(RulesFileError, match="rules file not found"):
        load_rules(tmp_path / "nope.yaml")


def test_dump_then_load_gives_equal_rules(tmp_path: Path) -> None:
    rules = load_rules(default_rules_path())
    path = tmp_path / "exported.yaml"
    dump_rules(rules, path)
    assert load_rules(path) == rules
    assert "action: qr_scan" in path.read_text(encoding="utf-8")  # one value written plainly
    assert "sql_to_won_threshold: 100" in path.read_text(encoding="utf-8")


def test_each_transition_is_judged_at_its_own_threshold_when_the_file_gives_one() -> None:
    rules = load_rules(default_rules_path())
    assert rules.threshold_for("mql_to_sql") == (35.0, "threshold")
    assert rules.threshold_for("sql_to_won") == (100.0, "sql_to_won_threshold")
    without = rules.model_copy(update={"sql_to_won_threshold": None})
    assert without.threshold_for("sql_to_won") == (35.0, "threshold")


def test_dump_then_load_keeps_disabled_decay_and_no_global_half_life(tmp_path: Path) -> None:
    rules = _rules(QR | {"half_life_days": float("inf"), "points": 2.5, "cap": 7.5})
    path = tmp_path / "exported.yaml"
    dump_rules(rules, path)
    assert load_rules(path) == rules


# --- touch rules ------------------------------------------------------------------------------


def test_touch_rule_gives_points_per_matching_touch_only() -> None:
    touches = [
        _touch(1, DAY, "qr_scan"),
        _touch(1, 2 * DAY, "qr_scan"),
        _touch(1, DAY, "email_open"),
    ]
    assert _score(_rules(QR), touches)["qr_scan"].tolist() == [10.0]


def test_touch_rule_needs_every_given_field_and_any_listed_value() -> None:
    rule = {
        "name": "product_or_pricing",
        "kind": "touch",
        "action": "page_view",
        "page_type": ["product", "pricing"],
        "points": 3,
    }
    touches = [
        _touch(1, DAY, "page_view", page_type="product"),
        _touch(1, DAY, "page_view", page_type="pricing"),
        _touch(1, DAY, "page_view", page_type="blog"),
        _touch(1, DAY, "page_view"),  # no page type: never matches a page_type filter
        _touch(1, DAY, "content_view", page_type="product"),
    ]
    assert _score(_rules(rule), touches)["product_or_pricing"].tolist() == [6.0]


def test_min_duration_counts_only_long_enough_touches() -> None:
    rule = {"name": "long_view", "kind": "touch", "page_type": "product", "points": 3}
    rule["min_duration_s"] = 10
    touches = [
        _touch(1, DAY, "page_view", page_type="product", duration_s=10.0),
        _touch(1, DAY, "page_view", page_type="product", duration_s=9.9),
        _touch(1, DAY, "page_view", page_type="product"),  # unknown duration
    ]
    assert _score(_rules(rule), touches)["long_view"].tolist() == [3.0]


def test_cap_limits_positive_and_negative_rules() -> None:
    careers = {"name": "careers", "kind": "touch", "page_type": "careers", "points": -10, "cap": 25}
    touches = [_touch(1, DAY, "qr_scan")] * 4 + [
        _touch(1, DAY, "page_view", page_type="careers")
    ] * 4
    points = _score(_rules(QR | {"cap": 12}, careers), touches)
    assert points["qr_scan"].tolist() == [12.0]
    assert points["careers"].tolist() == [-25.0]


def test_global_half_life_halves_a_touch_per_half_life() -> None:
    touches = [_touch(1, 30 * DAY, "qr_scan"), _touch(1, 60 * DAY, "qr_scan")]
    points = _score(_rules(QR, half_life_days=30), touches)
    assert points["qr_scan"].iloc[0] == pytest.approx(5 * 0.5 + 5 * 0.25)


def test_rule_half_life_overrides_global_and_inf_switches_decay_off() -> None:
    touches = [_touch(1, 10 * DAY, "qr_scan"), _touch(1, 10 * DAY, "email_open")]
    opens = {"name": "opens", "kind": "touch", "action": "email_open", "points": 4}
    rules = _rules(
        QR | {"half_life_days": 10}, opens | {"half_life_days": float("inf")}, half_life_days=5
    )
    points = _score(rules, touches)
    assert points["qr_scan"].iloc[0] == pytest.approx(2.5)
    assert points["opens"].iloc[0] == 4.0


def test_decay_applies_before_the_cap() -> None:
    touches = [_touch(1, 30 * DAY, "qr_scan")] * 4  # 4 x 2.5 = 10
    points = _score(_rules(QR | {"cap": 8}, half_life_days=30), touches)
    assert points["qr_scan"].iloc[0] == pytest.approx(8.0)


def test_window_keeps_a_touch_exactly_window_days_old_and_drops_an_older_one() -> None:
    touches = [
        _touch(1, 3 * DAY, "qr_scan"),
        _touch(1, 3 * DAY + pd.Timedelta(seconds=1), "qr_scan"),
    ]
    assert _score(_rules(QR | {"window_days": 3}), touches)["qr_scan"].tolist() == [5.0]


def test_touch_at_as_of_does_not_count_and_one_a_second_before_does() -> None:
    at_as_of = [_touch(1, pd.Timedelta(0), "qr_scan")]
    second_before = [_touch(1, pd.Timedelta(seconds=1), "qr_scan")]
    assert _score(_rules(QR), at_as_of)["qr_scan"].tolist() == [0.0]
    assert _score(_rules(QR), second_before)["qr_scan"].tolist() == [5.0]


# --- behaviour rules --------------------------------------------------------------------------

EMAILS_AND_PRODUCT = {
    "name": "emails_and_product",
    "kind": "behaviour",
    "window_days": 3,
    "when_all": [
        {"action": "email_open", "more_than": 2},
        {"page_type": "product", "measure": "total_duration_s", "more_than": 60},
    ],
    "points": 15,
}


def _three_opens(ago: pd.Timedelta = DAY) -> list[dict]:
    return [_touch(1, ago, "email_open", channel="email") for _ in range(3)]


def _product_views(*durations: float, ago: pd.Timedelta = DAY) -> list[dict]:
    return [_touch(1, ago, "page_view", page_type="product", duration_s=d) for d in durations]


def test_behaviour_rule_gives_points_once_when_both_conditions_hold() -> None:
    touches = _three_opens() + _three_opens() + _product_views(40, 30)
    assert _score(_rules(EMAILS_AND_PRODUCT), touches)["emails_and_product"].tolist() == [15.0]


@pytest.mark.parametrize(
    "touches",
    [
        _three_opens()[:2] + _product_views(40, 30),  # only two e-mails read
        _three_opens() + _product_views(30, 30),  # exactly one minute, not more
        _three_opens() + _product_views(40, 30, ago=4 * DAY),  # product visits too old
        _three_opens(),
        _product_views(100),
    ],
)
def test_behaviour_rule_needs_every_condition(touches: list[dict]) -> None:
    assert _score(_rules(EMAILS_AND_PRODUCT), touches)["emails_and_product"].tolist() == [0.0]


def test_behaviour_rule_ignores_event_at_as_of_and_counts_one_a_second_before() -> None:
    base = _three_opens()[:2] + _product_views(61)
    at_as_of = [*base, _touch(1, pd.Timedelta(0), "email_open", channel="email")]
    second_before = [*base, _touch(1, pd.Timedelta(seconds=1), "email_open", channel="email")]
    rules = _rules(EMAILS_AND_PRODUCT)
    assert _score(rules, at_as_of)["emails_and_product"].tolist() == [0.0]
    assert _score(rules, second_before)["emails_and_product"].tolist() == [15.0]


def test_behaviour_rule_with_at_most_and_own_condition_window_detects_silence() -> None:
    silent_after_trial = {
        "name": "silent_after_trial",
        "kind": "behaviour",
        "window_days": 90,
        "when_all": [
            {"action": "trial_signup", "more_than": 0},
            {"action": ["trial_signup", "page_view"], "window_days": 14, "at_most": 0},
        ],
        "points": -15,
    }
    rules = _rules(silent_after_trial)
    silent = [_touch(1, 20 * DAY, "trial_signup")]
    active = [*silent, _touch(1, 2 * DAY, "page_view", page_type="docs")]
    assert _score(rules, silent)["silent_after_trial"].tolist() == [-15.0]
    assert _score(rules, active)["silent_after_trial"].tolist() == [0.0]
    assert _score(rules, [])["silent_after_trial"].tolist() == [0.0]


# --- attribute rules --------------------------------------------------------------------------

FIT_RULES = (
    {"name": "industry", "kind": "attribute", "attribute": "industry"}
    | {"values": ["staffing", "financial_services"], "points": 5},
    {"name": "size", "kind": "attribute", "attribute": "company_size"}
    | {"min": 50, "max": 5000, "points": 5},
    {"name": "phone", "kind": "attribute", "attribute": "has_phone", "values": [True], "points": 5},
    {"name": "student", "kind": "attribute", "attribute": "job_level"}
    | {"values": ["student"], "points": -20},
)


def _lead(lead_id: int, **attributes: object) -> dict:
    return {"lead_id": lead_id, "created_at": AS_OF - 100 * DAY} | attributes


def test_attribute_rules_match_values_and_inclusive_ranges() -> None:
    leads = [
        _lead(1, industry="staffing", company_size=50, has_phone=True, job_level="student"),
        _lead(2, industry="higher_education", company_size=5001, has_phone=False),
        _lead(3, company_size=5000),
    ]
    points = score_leads(_rules(*FIT_RULES), _decision_points(1, 2, 3), _history([], leads)).points
    assert points.to_dict("list") == {
        "industry": [5.0, 0.0, 0.0],
        "size": [5.0, 0.0, 5.0],
        "phone": [5.0, 0.0, 0.0],
        "student": [-20.0, 0.0, 0.0],
    }


def test_missing_attribute_values_and_unknown_leads_never_match() -> None:
    leads = [_lead(1)]  # every attribute missing
    points = score_leads(_rules(*FIT_RULES), _decision_points(1, 99), _history([], leads)).points
    assert (points == 0.0).all().all()


def test_attribute_column_absent_from_leads_table_never_matches() -> None:
    history = _history([], [_lead(1)])
    history = LeadHistory(
        history.leads.drop(columns=["industry", "company_size"]),
        history.touches,
        history.stage_changes,
    )
    points = score_leads(_rules(*FIT_RULES), _decision_points(1), history).points
    assert points[["industry", "size"]].to_numpy().tolist() == [[0.0, 0.0]]


# --- totals and threshold ---------------------------------------------------------------------


def test_negative_points_lower_the_total() -> None:
    careers = {"name": "careers", "kind": "touch", "page_type": "careers", "points": -10}
    touches = [_touch(1, DAY, "qr_scan"), _touch(1, DAY, "page_view", page_type="careers")]
    scores = score_leads(_rules(QR, careers), _decision_points(), _history(touches))
    assert scores.total.tolist() == [-5.0]


def test_threshold_is_reached_at_exactly_threshold_points() -> None:
    history = _history([_touch(1, DAY, "qr_scan")] * 7 + [_touch(2, DAY, "qr_scan")] * 6)
    scores = score_leads(_rules(QR, threshold=35), _decision_points(1, 2), history)
    assert scores.total.tolist() == [35.0, 30.0]
    assert scores.passes_threshold.tolist() == [True, False]
    assert scores.passes_threshold.dtype == bool
    assert scores.threshold == 35


def test_scores_follow_decision_point_index_and_rule_order() -> None:
    rules = load_rules(default_rules_path())
    decision_points = _decision_points(1, 2).set_index(pd.Index([10, 20]))
    scores = score_leads(rules, decision_points, _history([_touch(2, DAY, "qr_scan")]))
    assert list(scores.points.columns) == [rule.name for rule in rules.rules]
    assert list(scores.points.index) == [10, 20]
    assert list(scores.total.index) == [10, 20]
    assert scores.total.loc[20] > scores.total.loc[10]


def test_no_decision_points_give_empty_scores() -> None:
    scores = score_leads(load_rules(default_rules_path()), _decision_points()[:0], _history([]))
    assert len(scores.points) == 0
    assert len(scores.total) == 0


def test_touches_without_page_type_or_duration_columns_score_without_error() -> None:
    history = _history([_touch(1, DAY, "qr_scan")])
    history = LeadHistory(
        history.leads,
        history.touches[["lead_id", "occurred_at", "channel", "action"]],
        history.stage_changes,
    )
    scores = score_leads(load_rules(default_rules_path()), _decision_points(), history)
    assert scores.points["qr_scan"].tolist() == [5 * 0.5 ** (1 / 60)]


def test_decision_points_without_as_of_raise_data_contract_error() -> None:
    with pytest.raises(DataContractError, match=r"decision_points\.as_of"):
        score_leads(_rules(QR), pd.DataFrame({"lead_id": [1]}), _history([]))


# --- one lead alone vs a batch ----------------------------------------------------------------


def _random_history(seed: int, n_leads: int = 30, n_touches: int = 1500) -> LeadHistory:
    rng = np.random.default_rng(seed)
    touches = [
        _touch(
            int(rng.integers(n_leads)),
            pd.Timedelta(seconds=int(rng.integers(-30 * 86400, 120 * 86400))),
            str(rng.choice(ACTIONS)),
            channel=str(rng.choice(["email", "web", "webinar", "sdr_call"])),
            page_type=None if rng.random() < 0.3 else str(rng.choice(PAGE_TYPES)),
            duration_s=None if rng.random() < 0.3 else float(rng.exponential(40)),
        )
        for _ in range(n_touches)
    ]
    leads = [
        _lead(i, industry=str(rng.choice(["staffing", "software_saas"])), has_phone=bool(i % 2))
        for i in range(n_leads)
    ]
    return _history(touches, leads)


def _lead_only(history: LeadHistory, lead_id: int) -> LeadHistory:
    return LeadHistory(
        history.leads[history.leads["lead_id"] == lead_id].reset_index(drop=True),
        history.touches[history.touches["lead_id"] == lead_id].reset_index(drop=True),
        history.stage_changes,
    )


def test_lead_scored_alone_equals_the_same_lead_scored_in_a_batch() -> None:
    rules = load_rules(default_rules_path())
    history = _random_history(seed=7)
    lead_ids = np.repeat(np.arange(30), 2)  # each lead at two decision times
    as_of = AS_OF - pd.to_timedelta(np.tile([0, 20], 30), unit="D")
    batch_points = pd.DataFrame({"lead_id": lead_ids, "as_of": as_of})
    batch = score_leads(rules, batch_points, history)
    assert batch.total.abs().sum() > 0
    for position in range(len(batch_points)):
        one_row = batch_points.iloc[[position]].reset_index(drop=True)
        alone = score_leads(rules, one_row, _lead_only(history, int(one_row["lead_id"].iloc[0])))
        expected = batch.points.iloc[[position]].reset_index(drop=True)
        pd.testing.assert_frame_equal(alone.points, expected, check_exact=True)
        assert alone.total.iloc[0] == batch.total.iloc[position]


@pytest.mark.parametrize("half_life_days", [60, None])
def test_each_rule_scored_alone_gives_its_column_of_the_whole_file(
    half_life_days: float | None,
) -> None:
    # the touch rules (and the behaviour rules) of a file are scored in one pass together;
    # a file of one rule is a pass of its own, so its column must come out the same
    rules = load_rules(default_rules_path()).model_copy(update={"half_life_days": half_life_days})
    history = _random_history(seed=11)
    decision_points = _decision_points(*range(30))
    together = score_leads(rules, decision_points, history)
    assert (together.points != 0).any().sum() > len(rules.rules) // 2  # not just equal zeros
    for rule in rules.rules:
        alone = score_leads(rules.model_copy(update={"rules": [rule]}), decision_points, history)
        pd.testing.assert_series_equal(
            alone.points[rule.name], together.points[rule.name], check_exact=True
        )


# --- property: the future never matters -------------------------------------------------------


def _touch_strategy(seconds: st.SearchStrategy[int]) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {
            "lead_id": st.integers(1, 3),
            "seconds": seconds,
            "action": st.sampled_from(ACTIONS),
            "page_type": st.none() | st.sampled_from(PAGE_TYPES),
            "duration_s": st.none() | st.floats(0, 600),
        }
    )


def _drawn_touch(drawn: dict, ago: pd.Timedelta) -> dict:
    fields = {"page_type": drawn["page_type"], "duration_s": drawn["duration_s"]}
    return _touch(drawn["lead_id"], ago, drawn["action"], **fields)


_SECONDS_BEFORE = st.integers(1, 100 * 86400)
_SECONDS_AFTER = st.just(0) | st.integers(0, 10) | st.integers(0, 30 * 86400)  # 0: at as_of


@settings(max_examples=80, deadline=None)
@given(
    touches=st.lists(_touch_strategy(_SECONDS_BEFORE), max_size=40),
    later=st.lists(_touch_strategy(_SECONDS_AFTER), min_size=1, max_size=20),
)
def test_touches_at_or_after_as_of_never_change_the_score(
    touches: list[dict], later: list[dict]
) -> None:
    rules = load_rules(default_rules_path())
    past = [_drawn_touch(t, pd.Timedelta(seconds=t["seconds"])) for t in touches]
    future = [_drawn_touch(t, -pd.Timedelta(seconds=t["seconds"])) for t in later]
    decision_points = _decision_points(1, 2, 3)
    without = score_leads(rules, decision_points, _history(past))
    with_future = score_leads(rules, decision_points, _history(past + future))
    pd.testing.assert_frame_equal(without.points, with_future.points, check_exact=True)
    pd.testing.assert_series_equal(without.total, with_future.total, check_exact=True)


def test_a_negative_rule_that_does_not_fire_gives_plain_zero_points():
    """Points go to CRMs as JSON: an unfired negative rule must read 0, never -0."""
    careers = {"name": "careers_page", "kind": "touch", "page_type": "careers", "points": -10}
    points = _score(_rules(careers), [])
    assert points.loc[0, "careers_page"] == 0
    assert not np.signbit(points.loc[0, "careers_page"])
