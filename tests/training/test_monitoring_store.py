"""The score store: rows written are read back per period, reading never creates the file, and
the newest monitor summary is the one returned."""

from __future__ import annotations

import pandas as pd
import pytest

from training.monitoring.store import (
    COLUMNS,
    ScoreWriter,
    count_scores,
    iso_times,
    latest_result,
    read_scores,
)


def _rows(lead_ids: list[str], times: list[str]) -> dict[str, list]:
    n = len(lead_ids)
    rows = {column: [None] * n for column in COLUMNS}
    rows.update(
        lead_id=lead_ids,
        as_of=iso_times(pd.to_datetime(times).tz_localize("UTC")),
        scored_at=iso_times([pd.Timestamp("2025-06-01", tz="UTC")] * n),
        endpoint=["score"] * n,
        mql_to_sql_status=["open"] * n,
        mql_to_sql_probability=[0.25] * n,
        hand_set_points=[12.5] * n,
        passes_threshold=[0] * n,
        feature_names=[("source", "company_size")] * n,
        features=['["web", 120.0]'] * n,
    )
    return rows


def test_scores_of_a_period_come_back_with_earlier_scores_of_the_same_leads(tmp_path):
    path = tmp_path / "store" / "scored.db"
    writer = ScoreWriter(path)
    written = writer.append(
        _rows(
            ["a", "a", "b", "c"],
            ["2025-01-05 10:00", "2025-02-03 08:00", "2025-02-04 09:30", "2025-03-09 00:00"],
        )
    )
    writer.close()
    assert written == 4
    found = read_scores(path, since=pd.Timestamp("2025-02-01"), until=pd.Timestamp("2025-03-09"))
    assert found["lead_id"].tolist() == ["a", "a", "b"]  # c: at until, outside
    assert found["as_of"].iloc[0] == pd.Timestamp("2025-01-05 10:00")
    assert found["mql_to_sql_probability"].tolist() == [0.25] * 3
    assert found["features"].tolist() == ['["web", 120.0]'] * 3
    assert found["feature_names"].tolist() == ['["source", "company_size"]'] * 3
    assert count_scores(path) == (4, "2025-01-05T10:00:00.000000", "2025-03-09T00:00:00.000000")


def test_reading_a_missing_store_creates_nothing(tmp_path):
    path = tmp_path / "none.db"
    assert read_scores(
        path, since=pd.Timestamp("2025-01-01"), until=pd.Timestamp("2025-02-01")
    ).empty
    assert count_scores(path) == (0, None, None)
    assert latest_result(path) is None
    assert not path.exists()


def test_rows_missing_a_column_are_refused(tmp_path):
    writer = ScoreWriter(tmp_path / "s.db")
    rows = _rows(["a"], ["2025-01-01"])
    del rows["features"]
    with pytest.raises(ValueError, match="features"):
        writer.append(rows)
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
