"""Dates in a flat export are read in one format per column (issue #22, item 2): a day-first
time column splits by the true dates, an ambiguous one is refused unless the convention is
given, and the plan records each column's format so scoring reads new rows the same way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from tests.training.flat.test_flat_table import make_table
from training.flat.table import flat_features, infer_columns, split_rows, usable_rows


def day_first_table(n: int = 1_500) -> tuple[pd.DataFrame, pd.Series]:
    """``make_table`` with its dates written DD/MM/YYYY HH:MM, the issue's example values in
    the first rows; returns the table and the true creation times."""
    table = make_table(n=n)
    created = pd.to_datetime(table["created_at"])
    example = pd.to_datetime(["2023-01-15", "2023-01-13", "2023-01-02", "2023-04-03"])
    created.iloc[:4] = example
    table["created_at"] = created.dt.strftime("%d/%m/%Y %H:%M")
    table.loc[:3, "created_at"] = ["15/01/2023", "13/01/2023", "02/01/2023", "03/04/2023"]
    last = pd.to_datetime(table["last_contact_at"])
    table["last_contact_at"] = last.dt.strftime("%d/%m/%Y %H:%M")
    return table, created.dt.floor("min")


def test_day_first_time_column_is_read_and_split_by_the_true_dates() -> None:
    table, created = day_first_table()
    plan = infer_columns(table, "converted", time_column="created_at")
    assert plan.date_format("created_at").order == "dayfirst"
    rows, y, set_aside = usable_rows(table, plan)
    assert set_aside["time missing or not a date"] == 0
    split = split_rows(rows, y, plan, seed=7)
    true_times = created.loc[rows.index].to_numpy()
    assert true_times[split.train].max() < true_times[split.validation].min()
    assert true_times[split.validation].max() < true_times[split.test].min()
    days = flat_features(table.head(4), plan)["last_contact_at"]
    expected = created.head(4) - pd.to_datetime(make_table(n=1_500)["last_contact_at"].head(4))
    expected = expected.to_numpy() / np.timedelta64(1, "D")
    assert np.allclose(days.to_numpy(), expected, atol=1 / 1440)  # minutes kept


def test_plan_records_each_date_columns_format_for_scoring() -> None:
    table, _ = day_first_table()
    plan = infer_columns(table, "converted", time_column="created_at")
    recorded = plan.to_dict()["date_formats"]
    assert set(recorded) == {"created_at", "last_contact_at"}
    assert all(text.startswith("day-first") for text in recorded.values())
    one_ambiguous_row = table.head(1).assign(created_at="02/01/2023", last_contact_at="01/01/2023")
    assert flat_features(one_ambiguous_row, plan)["last_contact_at"].iloc[0] == pytest.approx(1.0)


def test_an_ambiguous_date_column_takes_the_time_columns_proven_convention() -> None:
    table, _ = day_first_table()
    table["renewal_at"] = np.where(np.arange(len(table)) % 2, "01/02/2023", "03/04/2023")
    plan = infer_columns(table, "converted", time_column="created_at")
    fmt = plan.date_format("renewal_at")
    assert fmt.order == "dayfirst" and "other date columns" in fmt.reason


def test_a_time_column_mixing_conventions_is_refused_naming_it() -> None:
    table, _ = day_first_table()
    table.loc[10, "created_at"] = "01/25/2023"
    with pytest.raises(InputError, match=r"'created_at'.*mix day-first.*--dayfirst"):
        infer_columns(table, "converted", time_column="created_at")
    plan = infer_columns(table, "converted", time_column="created_at", dates="dayfirst")
    rows, _, set_aside = usable_rows(table, plan)
    assert set_aside["time missing or not a date"] == 1
    assert 10 not in rows.index


def test_an_entirely_ambiguous_time_column_is_refused_unless_told() -> None:
    table = make_table(n=600)
    days = np.arange(len(table)) % 12 + 1
    table["created_at"] = [f"{d:02d}/{m:02d}/2023" for d, m in zip(days, days[::-1], strict=True)]
    table = table.drop(columns="last_contact_at")
    with pytest.raises(InputError, match=r"'created_at': dates are ambiguous.*--dayfirst"):
        infer_columns(table, "converted", time_column="created_at")
    plan = infer_columns(table, "converted", time_column="created_at", dates="monthfirst")
    assert plan.date_format("created_at").order == "monthfirst"
