"""validate_history: fatal problems stop with a clear error; everything else is set aside,
counted exactly under a stable reason, and the valid rows come through intact."""

from __future__ import annotations

import pandas as pd
import pytest

from core.contract import TABLES, column_names, dtype_of
from core.errors import DataContractError
from features.history import LeadHistory, SetAside
from features.validate import Reason, validate_history
from tests.factories import NOW, make_history, make_leads, make_stage_changes, make_touches, typed


def validate(history: LeadHistory, now: pd.Timestamp | None = NOW):
    return validate_history(history.leads, history.touches, history.stage_changes, now=now)


def with_values(frame: pd.DataFrame, column: str, values: dict[int, object]) -> pd.DataFrame:
    """A copy of ``frame`` whose ``column`` (made plain objects) holds ``values`` at those rows."""
    out = frame.copy()
    changed = out[column].astype(object) if column in out else pd.Series(None, index=out.index)
    for row, value in values.items():
        changed.iloc[row] = value
    out[column] = changed
    return out


def tables_of(history: LeadHistory) -> dict[str, pd.DataFrame]:
    return {name: getattr(history, name) for name in TABLES}


def reasons(set_aside: list[SetAside]) -> dict[tuple[str, str], SetAside]:
    return {(item.table, item.reason): item for item in set_aside}


def without(frame: pd.DataFrame, rows: list[int]) -> pd.DataFrame:
    return frame.drop(index=rows).reset_index(drop=True)


def assert_only(set_aside: list[SetAside], expected: dict[tuple[str, str], int]) -> None:
    """Exactly these (table, reason) entries, with these row counts."""
    assert {key: item.rows for key, item in reasons(set_aside).items()} == expected


# --- valid input ------------------------------------------------------------------------------


def test_valid_history_comes_back_unchanged_with_nothing_set_aside():
    history = make_history()
    result, set_aside = validate(history)
    assert set_aside == []
    pd.testing.assert_frame_equal(result.leads, history.leads)
    pd.testing.assert_frame_equal(result.touches, history.touches)
    pd.testing.assert_frame_equal(result.stage_changes, history.stage_changes)


def test_input_frames_are_not_mutated():
    history = make_history()
    touches = with_values(history.touches, "occurred_at", {0: "not a time"})
    copies = [f.copy(deep=True) for f in (history.leads, touches, history.stage_changes)]
    validate_history(history.leads, touches, history.stage_changes, now=NOW)
    for before, after in zip(copies, (history.leads, touches, history.stage_changes), strict=True):
        pd.testing.assert_frame_equal(before, after)


def test_csv_text_is_coerced_to_contract_dtypes():
    history = make_history()
    as_text = [
        frame.astype(object)
        .map(lambda v: None if pd.isna(v) else str(v))
        .astype("str")
        .assign(lead_id=frame["lead_id"])  # read_csv gives integer ids; text ids stay text
        for frame in (history.leads, history.touches, history.stage_changes)
    ]
    result, set_aside = validate_history(*as_text, now=NOW)
    assert set_aside == []
    pd.testing.assert_frame_equal(result.leads, history.leads)
    pd.testing.assert_frame_equal(result.touches, history.touches)
    pd.testing.assert_frame_equal(result.stage_changes, history.stage_changes)


def test_boolean_text_variants_are_read():
    leads = with_values(make_leads(4), "has_phone", {0: "yes", 1: "FALSE", 2: "1", 3: None})
    result, set_aside = validate(LeadHistory(leads, make_touches(leads), make_stage_changes(leads)))
    assert set_aside == []
    assert result.leads["has_phone"].tolist() == [True, False, True, pd.NA]


def test_tz_aware_timestamps_become_utc_without_zone():
    history = make_history()
    leads = history.leads.copy()
    leads["created_at"] = leads["created_at"].dt.tz_localize("UTC").dt.tz_convert("Europe/Berlin")
    touches = with_values(history.touches, "occurred_at", {0: "2024-01-01T03:00:00+02:00"})
    result, set_aside = validate_history(leads, touches, history.stage_changes, now=NOW)
    assert set_aside == []
    pd.testing.assert_series_equal(result.leads["created_at"], history.leads["created_at"])
    assert result.touches["occurred_at"].dtype == "datetime64[ns]"
    assert result.touches.loc[0, "occurred_at"] == pd.Timestamp("2024-01-01T01:00:00")


def test_tz_aware_now_is_compared_in_utc():
    history = make_history()
    late = history.touches["occurred_at"].max()
    now = (late - pd.Timedelta(minutes=30)).tz_localize("UTC").tz_convert("America/New_York")
    _, set_aside = validate(history, now=now)
    assert reasons(set_aside)[("touches", "occurred_at in the future")].rows == 1


def test_text_ids_are_kept_as_text():
    history = make_history()
    frames = [
        f.assign(lead_id="L-" + f["lead_id"].astype(str)) for f in tables_of(history).values()
    ]
    result, set_aside = validate_history(*frames, now=NOW)
    assert set_aside == []
    assert result.leads["lead_id"].dtype == "str"
    assert result.touches["lead_id"].tolist() == ["L-1", "L-1", "L-2", "L-2", "L-3", "L-3"]


def test_text_and_integer_ids_that_match_are_compared_as_text():
    history = make_history()
    leads = history.leads.assign(lead_id=history.leads["lead_id"].astype(str))
    result, set_aside = validate_history(leads, history.touches, history.stage_changes, now=NOW)
    assert set_aside == []
    assert result.touches["lead_id"].dtype == "str"
    assert len(result.touches) == len(history.touches)


def test_whole_float_ids_from_csv_blanks_come_back_as_integers():
    history = make_history()
    touches = history.touches.assign(lead_id=history.touches["lead_id"].astype(float))
    touches.loc[0, "lead_id"] = float("nan")
    result, set_aside = validate_history(history.leads, touches, history.stage_changes, now=NOW)
    assert_only(set_aside, {("touches", "missing or unreadable lead_id"): 1})
    assert result.touches["lead_id"].dtype == "int64"
    pd.testing.assert_frame_equal(result.touches, without(history.touches, [0]))


def test_absent_optional_columns_come_back_all_missing_in_contract_dtypes():
    history = make_history()
    optional = [c.name for c in TABLES["leads"] if not c.required]
    leads = history.leads.drop(columns=optional)
    touches = history.touches.drop(columns=["page_type", "duration_s"])
    result, set_aside = validate_history(leads, touches, history.stage_changes, now=NOW)
    assert set_aside == []
    assert list(result.leads.columns) == column_names("leads")
    for column in TABLES["leads"] + TABLES["touches"]:
        if not column.required:
            frame = result.leads if column in TABLES["leads"] else result.touches
            assert frame[column.name].isna().all()
            assert frame[column.name].dtype == dtype_of(column)


def test_leads_without_any_events_are_valid():
    history = make_history()
    header_only = pd.DataFrame({c: pd.Series([], dtype=object) for c in column_names("touches")})
    result, set_aside = validate_history(
        history.leads, header_only, history.stage_changes.iloc[:0], now=NOW
    )
    assert set_aside == []
    assert len(result.leads) == 3
    assert dict(result.touches.dtypes) == dict(history.touches.dtypes)
    assert dict(result.stage_changes.dtypes) == dict(history.stage_changes.dtypes)


def test_extra_columns_are_ignored():
    history = make_history()
    leads = history.leads.assign(crm_owner="anna", lead_score=12)
    touches = history.touches.assign(utm_campaign="spring")
    result, set_aside = validate_history(leads, touches, history.stage_changes, now=NOW)
    assert set_aside == []
    assert list(result.leads.columns) == column_names("leads")
    assert list(result.touches.columns) == column_names("touches")


def test_events_exactly_at_created_at_and_at_now_are_kept():
    history = make_history()
    touches = history.touches.copy()
    touches.loc[0, "occurred_at"] = history.leads.loc[0, "created_at"]
    touches.loc[1, "occurred_at"] = NOW
    result, set_aside = validate_history(history.leads, touches, history.stage_changes, now=NOW)
    assert set_aside == []
    pd.testing.assert_frame_equal(result.touches, touches)


@pytest.mark.parametrize(
    "stages",
    [("lead", "sql", "won"), ("mql", "lost"), ("lead", "mql", "sal", "sql", "lost")],
    ids=["skipped_stages", "lost_after_mql", "full_funnel_lost"],
)
def test_legal_stage_paths_are_kept(stages):
    leads = make_leads(2)
    stage_changes = make_stage_changes(leads, stages)
    _, set_aside = validate(LeadHistory(leads, make_touches(leads), stage_changes))
    assert set_aside == []


def test_stages_entered_at_the_same_time_are_kept_in_rank_order():
    leads = make_leads(1)
    at = leads.loc[0, "created_at"]
    stages = typed(
        "stage_changes",
        {"lead_id": [1, 1, 1], "stage": ["sql", "lead", "mql"], "changed_at": [at, at, at]},
    )
    _, set_aside = validate(LeadHistory(leads, make_touches(leads), stages))
    assert set_aside == []


# --- fatal ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "column"),
    [(t, c.name) for t, columns in TABLES.items() for c in columns if c.required],
)
def test_missing_required_column_stops_naming_table_and_column(table, column):
    frames = tables_of(make_history())
    frames[table] = frames[table].drop(columns=[column])
    with pytest.raises(DataContractError) as caught:
        validate_history(*frames.values(), now=NOW)
    assert (caught.value.table, caught.value.column) == (table, column)
    assert str(caught.value).startswith(f"{table}.{column}: required column is missing")


def test_empty_leads_table_stops():
    history = make_history()
    with pytest.raises(DataContractError, match=r"^leads: the table has no rows$"):
        validate_history(history.leads.iloc[:0], history.touches, history.stage_changes, now=NOW)


def test_duplicate_lead_ids_stop_with_examples():
    leads = make_leads(4, lead_id=[1, 2, 2, 3])
    with pytest.raises(DataContractError) as caught:
        validate(LeadHistory(leads, make_touches(make_leads(1)), make_stage_changes(make_leads(1))))
    assert (caught.value.table, caught.value.column) == ("leads", "lead_id")
    assert caught.value.examples == ["2"]
    assert "2 rows share a lead_id" in str(caught.value)


def test_mostly_unreadable_timestamps_stop_as_wrong_format():
    history = make_history()
    touches = history.touches.assign(
        occurred_at=history.touches["occurred_at"].dt.strftime("%d/%m/%Y")
    )
    with pytest.raises(DataContractError) as caught:
        validate_history(history.leads, touches, history.stage_changes, now=NOW)
    assert (caught.value.table, caught.value.column) == ("touches", "occurred_at")
    assert "6 of 6 values are missing or not ISO 8601 timestamps" in str(caught.value)
    assert caught.value.examples[0] == "row 0: '01/01/2024'"


def test_numbers_in_a_timestamp_column_stop():
    history = make_history()
    leads = history.leads.assign(created_at=history.leads["created_at"].astype("int64"))
    with pytest.raises(DataContractError, match=r"^leads\.created_at: 3 of 3 values"):
        validate_history(leads, history.touches, history.stage_changes, now=NOW)


def test_mostly_unknown_channel_values_stop():
    history = make_history()
    touches = with_values(history.touches, "channel", dict.fromkeys(range(4), "Email"))
    with pytest.raises(DataContractError, match=r"^touches\.channel: 4 of 6 values .* allowed"):
        validate_history(history.leads, touches, history.stage_changes, now=NOW)


def test_mostly_unreadable_optional_numbers_stop():
    leads = with_values(make_leads(3), "company_size", {0: "11-50", 1: "51-200"})
    with pytest.raises(DataContractError, match=r"^leads\.company_size: 2 of 3 values"):
        validate(LeadHistory(leads, make_touches(leads), make_stage_changes(leads)))


def test_mostly_unknown_optional_vocabulary_is_set_to_missing_not_fatal():
    leads = with_values(make_leads(3), "industry", dict.fromkeys(range(3), "aerospace"))
    result, set_aside = validate(LeadHistory(leads, make_touches(leads), make_stage_changes(leads)))
    assert_only(set_aside, {("leads", "unknown industry set to missing (row kept)"): 3})
    assert result.leads["industry"].isna().all()


def test_lead_ids_of_another_kind_that_match_no_lead_stop():
    history = make_history()
    touches = history.touches.assign(lead_id="crm-" + history.touches["lead_id"].astype(str))
    with pytest.raises(DataContractError) as caught:
        validate_history(history.leads, touches, history.stage_changes, now=NOW)
    assert (caught.value.table, caught.value.column) == ("touches", "lead_id")
    assert "text here but integer in leads" in str(caught.value)
    assert caught.value.examples[:2] == ["crm-1", "crm-2"]


def test_leads_without_any_ids_stop():
    leads = make_leads(3).assign(lead_id=None)
    with pytest.raises(DataContractError, match=r"^leads\.lead_id: 3 of 3 values"):
        validate(LeadHistory(leads, make_touches(make_leads(3)), make_stage_changes(make_leads(3))))


# --- set aside: one row, one reason -----------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "column", "value", "reason"),
    [
        ("leads", "lead_id", None, "missing or unreadable lead_id"),
        ("leads", "created_at", None, "missing created_at"),
        ("leads", "created_at", "yesterday", "unreadable created_at"),
        ("leads", "lead_type", None, "missing lead_type"),
        ("leads", "lead_type", "cold_call", "unknown lead_type value"),
        ("touches", "lead_id", None, "missing or unreadable lead_id"),
        ("touches", "occurred_at", None, "missing occurred_at"),
        ("touches", "occurred_at", "2024-13-45", "unreadable occurred_at"),
        ("touches", "channel", None, "missing channel"),
        ("touches", "channel", "fax", "unknown channel value"),
        ("touches", "action", " ", "missing action"),
        ("touches", "action", "like", "unknown action value"),
        ("stage_changes", "lead_id", None, "missing or unreadable lead_id"),
        ("stage_changes", "stage", None, "missing stage"),
        ("stage_changes", "stage", "nurture", "unknown stage value"),
        ("stage_changes", "changed_at", None, "missing changed_at"),
        ("stage_changes", "changed_at", "soon", "unreadable changed_at"),
    ],
)
def test_row_with_unusable_required_value_is_set_aside_and_counted(table, column, value, reason):
    history = make_history()
    frames = tables_of(history)
    row = 1 if table == "leads" else 5  # the last row of touches and stage_changes: lead 3
    frames[table] = with_values(frames[table], column, {row: value})
    result, set_aside = validate_history(*frames.values(), now=NOW)
    expected = {(table, reason): 1}
    if table == "leads":  # lead 2's events lose their lead
        lost = Reason.NOT_IN_LEADS if column == "lead_id" else Reason.LEAD_SET_ASIDE
        expected |= {("touches", lost): 2, ("stage_changes", lost): 2}
    assert_only(set_aside, expected)
    kept = getattr(result, table)
    pd.testing.assert_frame_equal(kept, without(getattr(history, table), [row]))
    if table == "leads":  # leads are named by id, events by row (and lead, if it has one)
        example = "row 1" if column == "lead_id" else "2"
    else:
        example = "row 5" if column == "lead_id" else "row 5 (lead 3)"
    assert reasons(set_aside)[(table, reason)].examples == [example]


def test_events_of_unknown_leads_are_set_aside_and_counted():
    history = make_history()
    touches = with_values(history.touches, "lead_id", {0: 99, 3: 98})
    stages = with_values(history.stage_changes, "lead_id", {1: 97})
    touches["lead_id"] = touches["lead_id"].astype("int64")
    stages["lead_id"] = stages["lead_id"].astype("int64")
    result, set_aside = validate_history(history.leads, touches, stages, now=NOW)
    assert_only(
        set_aside,
        {("touches", "lead_id not in leads"): 2, ("stage_changes", "lead_id not in leads"): 1},
    )
    assert reasons(set_aside)[("touches", "lead_id not in leads")].examples == [
        "row 0 (lead 99)",
        "row 3 (lead 98)",
    ]
    pd.testing.assert_frame_equal(result.touches, without(history.touches, [0, 3]))
    pd.testing.assert_frame_equal(result.stage_changes, without(history.stage_changes, [1]))


def test_lead_created_in_the_future_is_set_aside_with_its_events():
    history = make_history()
    leads = history.leads.copy()
    leads.loc[2, "created_at"] = NOW + pd.Timedelta(days=1)
    result, set_aside = validate_history(leads, history.touches, history.stage_changes, now=NOW)
    assert_only(
        set_aside,
        {
            ("leads", "created_at in the future"): 1,
            ("touches", "its lead was set aside"): 2,
            ("stage_changes", "its lead was set aside"): 2,
        },
    )
    assert reasons(set_aside)[("leads", "created_at in the future")].examples == ["3"]
    pd.testing.assert_frame_equal(result.leads, without(history.leads, [2]))
    pd.testing.assert_frame_equal(result.touches, without(history.touches, [4, 5]))


@pytest.mark.parametrize(
    ("table", "column"), [("touches", "occurred_at"), ("stage_changes", "changed_at")]
)
def test_event_in_the_future_is_set_aside_and_counted(table, column):
    history = make_history()
    frames = tables_of(history)
    frames[table] = frames[table].copy()
    frames[table].loc[[0, 3], column] = NOW + pd.Timedelta(seconds=1)
    result, set_aside = validate_history(*frames.values(), now=NOW)
    assert_only(set_aside, {(table, f"{column} in the future"): 2})
    pd.testing.assert_frame_equal(getattr(result, table), without(getattr(history, table), [0, 3]))


def test_default_now_is_the_current_time():
    history = make_history()
    touches = history.touches.copy()
    touches.loc[0, "occurred_at"] = pd.Timestamp.now() + pd.Timedelta(days=400)
    _, set_aside = validate_history(history.leads, touches, history.stage_changes)
    assert_only(set_aside, {("touches", "occurred_at in the future"): 1})


def test_touch_before_created_at_is_set_aside_and_counted():
    history = make_history()
    touches = history.touches.copy()
    touches.loc[2, "occurred_at"] = history.leads.loc[1, "created_at"] - pd.Timedelta(seconds=1)
    result, set_aside = validate_history(history.leads, touches, history.stage_changes, now=NOW)
    assert_only(set_aside, {("touches", "occurred_at before the lead's created_at"): 1})
    assert reasons(set_aside)[("touches", Reason.before_created("occurred_at"))].examples == [
        "row 2 (lead 2)"
    ]
    pd.testing.assert_frame_equal(result.touches, without(history.touches, [2]))


def test_stage_change_before_created_at_is_set_aside_and_counted():
    history = make_history()
    stages = history.stage_changes.copy()
    stages.loc[0, "changed_at"] = history.leads.loc[0, "created_at"] - pd.Timedelta(days=3)
    result, set_aside = validate_history(history.leads, history.touches, stages, now=NOW)
    assert_only(set_aside, {("stage_changes", "changed_at before the lead's created_at"): 1})
    pd.testing.assert_frame_equal(result.stage_changes, without(history.stage_changes, [0]))


def test_each_row_is_counted_once_under_its_first_reason():
    history = make_history()
    touches = history.touches.copy()
    touches.loc[0, "lead_id"] = 99
    touches.loc[0, "occurred_at"] = NOW + pd.Timedelta(days=1)
    _, set_aside = validate_history(history.leads, touches, history.stage_changes, now=NOW)
    assert_only(set_aside, {("touches", "lead_id not in leads"): 1})


def test_repeated_stage_entry_keeps_the_earliest():
    leads = make_leads(2)
    t0 = leads.loc[0, "created_at"]
    stages = typed(
        "stage_changes",
        {
            "lead_id": [1, 1, 1, 1, 2],
            "stage": ["lead", "mql", "mql", "mql", "lead"],
            "changed_at": [
                t0,
                t0 + pd.Timedelta(days=5),
                t0 + pd.Timedelta(days=2),
                t0 + pd.Timedelta(days=2),
                t0 + pd.Timedelta(days=1),
            ],
        },
    )
    result, set_aside = validate(LeadHistory(leads, make_touches(leads), stages))
    assert_only(set_aside, {("stage_changes", "repeated stage entry (earliest kept)"): 2})
    pd.testing.assert_frame_equal(result.stage_changes, without(stages, [1, 3]))


@pytest.mark.parametrize(
    ("stages", "days"),
    [
        (["lead", "mql", "sql"], [0, 5, 3]),
        (["lead", "won", "lost"], [0, 5, 6]),
        (["lead", "won", "mql"], [0, 5, 6]),
        (["lead", "lost", "sal"], [0, 1, 2]),
    ],
    ids=["later_stage_dated_first", "won_and_lost", "stage_after_won", "stage_after_lost"],
)
def test_impossible_stage_order_sets_aside_the_whole_lead(stages, days):
    leads = make_leads(3)
    touches = make_touches(leads)
    good = make_stage_changes(leads.iloc[[0, 2]], ("lead", "mql", "sql", "won"))
    bad = typed(
        "stage_changes",
        {
            "lead_id": [2] * len(stages),
            "stage": stages,
            "changed_at": [leads.loc[1, "created_at"] + pd.Timedelta(days=d) for d in days],
        },
    )
    stage_changes = pd.concat([good, bad], ignore_index=True)
    result, set_aside = validate(LeadHistory(leads, touches, stage_changes))
    assert_only(
        set_aside,
        {
            ("leads", "impossible stage order"): 1,
            ("touches", "impossible stage order"): 2,
            ("stage_changes", "impossible stage order"): len(stages),
        },
    )
    assert reasons(set_aside)[("leads", Reason.IMPOSSIBLE_ORDER)].examples == ["2"]
    pd.testing.assert_frame_equal(result.leads, without(leads, [1]))
    pd.testing.assert_frame_equal(result.touches, without(touches, [2, 3]))
    pd.testing.assert_frame_equal(result.stage_changes, good)


# --- values set to missing, row kept ----------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "column", "value", "reason"),
    [
        ("leads", "industry", "aerospace", "unknown industry set to missing (row kept)"),
        ("leads", "source", "tiktok", "unknown source set to missing (row kept)"),
        ("leads", "job_level", "intern", "unknown job_level set to missing (row kept)"),
        ("leads", "company_size", -5, "negative company_size set to missing (row kept)"),
        ("leads", "company_size", "many", "unreadable company_size set to missing (row kept)"),
        ("leads", "company_size", 12.5, "unreadable company_size set to missing (row kept)"),
        ("leads", "annual_revenue", -1.0, "negative annual_revenue set to missing (row kept)"),
        ("leads", "has_phone", "maybe", "unreadable has_phone set to missing (row kept)"),
        ("touches", "page_type", "pricing_v2", "unknown page_type set to missing (row kept)"),
        ("touches", "duration_s", -3.0, "negative duration_s set to missing (row kept)"),
        ("touches", "duration_s", "long", "unreadable duration_s set to missing (row kept)"),
    ],
)
def test_bad_attribute_is_set_to_missing_and_reported_row_kept(table, column, value, reason):
    history = make_history()
    frames = tables_of(history)
    frames[table] = with_values(frames[table], column, {1: value})
    result, set_aside = validate_history(*frames.values(), now=NOW)
    assert_only(set_aside, {(table, reason): 1})
    kept = getattr(result, table)
    assert pd.isna(kept.loc[1, column])
    expected = getattr(history, table).copy()
    expected[column] = expected[column].astype(object)
    expected.loc[1, column] = None
    expected[column] = expected[column].astype(kept[column].dtype)
    pd.testing.assert_frame_equal(kept, expected)


def test_value_fix_on_a_row_set_aside_is_not_counted_twice():
    history = make_history()
    touches = with_values(history.touches, "duration_s", {0: -1.0})
    touches.loc[0, "lead_id"] = 99
    _, set_aside = validate_history(history.leads, touches, history.stage_changes, now=NOW)
    assert_only(set_aside, {("touches", "lead_id not in leads"): 1})


def test_set_aside_describes_itself_in_one_line():
    history = make_history()
    touches = with_values(history.touches, "channel", {1: "fax"})
    _, set_aside = validate_history(history.leads, touches, history.stage_changes, now=NOW)
    assert [s.describe() for s in set_aside] == [
        "touches: 1 row(s) set aside: unknown channel value (e.g. row 1 (lead 1))"
    ]
