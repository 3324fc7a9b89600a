"""The score store: blocks written are read back per period (with the earlier scores of the
period's leads), compaction keeps every row, reading never creates the file, and the newest
monitor summary is the one returned."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pyarrow as pa
import pytest

from training.monitoring.store import (
    COLUMNS,
    ScoreWriter,
    count_scores,
    latest_result,
    read_scores,
)

UTC = pa.timestamp("us", tz="UTC")


def _times(times: list[str]) -> pa.Array:
    return pa.array(list(pd.to_datetime(times).tz_localize("UTC").to_pydatetime()), UTC)


def _block(lead_ids: list[str], times: list[str], features: dict | None = None) -> pa.Table:
    n = len(lead_ids)
    columns = {column: pa.nulls(n, pa.string()) for column in COLUMNS}
    columns.update(
        lead_id=pa.array(lead_ids),
        as_of=_times(times),
        scored_at=_times(["2025-06-01"] * n),
        endpoint=pa.array(["score"] * n),
        mql_to_sql_status=pa.array(["open"] * n),
        mql_to_sql_probability=pa.array([0.25] * n),
        hand_set_points=pa.array([12.5] * n),
        passes_threshold=pa.array([False] * n),
    )
    for name, values in (features or {"source": ["web"] * n}).items():
        columns[f"feature.{name}"] = pa.array(values)
    return pa.table(columns)


def _blocks_in(path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT COUNT(*) FROM scored_blocks").fetchone()[0]


def test_scores_of_a_period_come_back_with_earlier_scores_of_the_same_leads(tmp_path):
    path = tmp_path / "store" / "scored.db"
    writer = ScoreWriter(path)
    assert writer.append(_block(["a", "x"], ["2025-01-05 10:00", "2025-01-06 10:00"])) == 2
    writer.append(_block(["a", "b"], ["2025-02-03 08:00", "2025-02-04 09:30"]))
    writer.append(  # another model's features: the missing column is null, not an error
        _block(["c", "d"], ["2025-03-08 00:00", "2025-03-09 00:00"], {"country": ["DE", "AT"]})
    )
    writer.close()
    found = read_scores(path, since=pd.Timestamp("2025-02-01"), until=pd.Timestamp("2025-03-09"))
    # x: not scored in the period; d: at until, after it
    assert found["lead_id"].tolist() == ["a", "a", "b", "c"]
    assert found["as_of"].iloc[0] == pd.Timestamp("2025-01-05 10:00")
    assert found["mql_to_sql_probability"].tolist() == [0.25] * 4
    assert found["feature.source"].tolist()[:3] == ["web"] * 3
    assert found["feature.country"].tolist()[3] == "DE"
    assert found["feature.country"].iloc[:3].isna().all()
    assert count_scores(path) == (6, "2025-01-05T10:00:00.000000", "2025-03-09T00:00:00.000000")


def test_compaction_merges_a_days_blocks_and_keeps_every_row(tmp_path):
    path = tmp_path / "s.db"
    writer = ScoreWriter(path)
    for hour in range(5):  # five flushes on one day, one on the next
        writer.append(_block([f"l{hour}"], [f"2025-02-03 {hour:02d}:00"]))
    writer.append(_block(["late"], ["2025-02-04 09:00"]))
    period = {"since": pd.Timestamp("2025-02-01"), "until": pd.Timestamp("2025-03-01")}
    before = read_scores(path, **period)
    assert writer.compact(pd.Timestamp("2025-02-04")) == 4
    writer.close()
    assert _blocks_in(path) == 2
    after = read_scores(path, **period)  # the same rows (ids number the rows as read)
    pd.testing.assert_frame_equal(after.drop(columns="id"), before.drop(columns="id"))


def test_reading_a_missing_store_creates_nothing(tmp_path):
    path = tmp_path / "none.db"
    since, until = pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01")
    assert read_scores(path, since=since, until=until).empty
    assert count_scores(path) == (0, None, None)
    assert latest_result(path) is None
    assert not path.exists()


def test_blocks_missing_a_column_are_refused(tmp_path):
    writer = ScoreWriter(tmp_path / "s.db")
    with pytest.raises(ValueError, match="stage"):
        writer.append(_block(["a"], ["2025-01-01"]).drop_columns(["stage"]))
    writer.close()


def test_the_latest_monitor_result_is_the_newest(tmp_path):
    path = tmp_path / "s.db"
    writer = ScoreWriter(path)
    for k in range(3):
        writer.save_result(
            ran_at=f"2025-06-0{k + 1}T00:00:00+00:00",
            since="2025-01-01",
            until="2025-06-01",
            summary={"alarms": [{"check": "psi"}] * k},
        )
    writer.close()
    assert latest_result(path) == {
        "alarms": [{"check": "psi"}] * 2,
        "ran_at": "2025-06-03T00:00:00+00:00",
    }
