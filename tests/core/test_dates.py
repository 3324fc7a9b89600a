"""One format per date column (``core.dates``): proven conventions are used for every value,
mixed or entirely ambiguous columns are refused by name unless the convention is given."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.dates import DateSurvey, agreed_convention, decide, parse_dates, read_date_column
from core.errors import InputError


def stamps(*texts: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(t) for t in texts]


def test_dayfirst_column_reads_ambiguous_values_dayfirst_too() -> None:
    """The issue's example: 15/01 and 13/01 prove day-first, so 02/01 is 2 January and 03/04
    is 3 April (a per-value guess made them 1 February and 4 March)."""
    column = pd.Series(["15/01/2023", "13/01/2023", "02/01/2023", "03/04/2023"])
    values, fmt = read_date_column(column, "created")
    assert fmt.order == "dayfirst"
    assert "15/01/2023" in fmt.describe()
    assert list(values) == stamps("2023-01-15", "2023-01-13", "2023-01-02", "2023-04-03")


def test_monthfirst_column_reads_ambiguous_values_monthfirst_too() -> None:
    column = pd.Series(["01/15/2023", "01/13/2023 4:05 PM", "02/01/2023", "03/04/2023"])
    values, fmt = read_date_column(column, "created")
    assert fmt.order == "monthfirst"
    assert list(values) == stamps("2023-01-15", "2023-01-13 16:05", "2023-02-01", "2023-03-04")


def test_iso_column_is_read_with_times_fractions_and_zones_as_utc() -> None:
    column = pd.Series(
        [
            "2023-02-01",
            "2023-02-01T10:30:00Z",
            "2023-02-01 10:30:15.250",
            "2023-02-01T12:30+02:00",
            "2023/02/01 10:30",
            None,
            "  ",
        ]
    )
    values, fmt = read_date_column(column, "created")
    assert fmt.order == "iso"
    assert list(values[:5]) == stamps(
        "2023-02-01",
        "2023-02-01 10:30",
        "2023-02-01 10:30:15.250",
        "2023-02-01 10:30",
        "2023-02-01 10:30",
    )
    assert pd.isna(values[5]) and pd.isna(values[6])


def test_both_conventions_in_one_column_are_refused_naming_it_and_the_option() -> None:
    column = pd.Series(["15/01/2023", "01/15/2023", "02/01/2023"])
    with pytest.raises(InputError, match=r"created.*15/01/2023.*01/15/2023.*--dayfirst"):
        read_date_column(column, "created")


def test_both_conventions_with_the_option_read_the_other_as_unreadable() -> None:
    column = pd.Series(["15/01/2023", "01/15/2023", "02/01/2023"])
    values, fmt = read_date_column(column, "created", convention="dayfirst")
    assert fmt.order == "dayfirst"
    assert values[0] == pd.Timestamp("2023-01-15") and pd.isna(values[1])
    assert values[2] == pd.Timestamp("2023-01-02")


def test_entirely_ambiguous_column_is_refused_unless_the_convention_is_given() -> None:
    column = pd.Series(["02/01/2023", "03/04/2023", "11/12/2023"])
    with pytest.raises(InputError, match=r"created: dates are ambiguous.*02/01/2023.*--dayfirst"):
        read_date_column(column, "created")
    day, _ = read_date_column(column, "created", convention="dayfirst")
    month, _ = read_date_column(column, "created", convention="monthfirst")
    assert list(day) == stamps("2023-01-02", "2023-04-03", "2023-12-11")
    assert list(month) == stamps("2023-02-01", "2023-03-04", "2023-11-12")


def test_ambiguous_column_takes_the_convention_the_files_other_columns_prove() -> None:
    proven = DateSurvey().add(pd.Series(["28/02/2023", "01/03/2023"]))
    other = DateSurvey().add(pd.Series(["01/02/2023", "05/12/2023"]))
    fallback = agreed_convention([proven, other])
    assert fallback == "dayfirst"
    fmt = decide(other, "closed", fallback=fallback)
    assert fmt.order == "dayfirst" and "other date columns" in fmt.describe()
    disagreeing = DateSurvey().add(pd.Series(["12/31/2023"]))
    assert agreed_convention([proven, disagreeing, other]) is None


def test_a_given_convention_the_values_contradict_is_refused() -> None:
    with pytest.raises(InputError, match=r"created: dates are month-first.*01/15/2023.*dayfirst"):
        read_date_column(pd.Series(["01/15/2023", "02/01/2023"]), "created", "dayfirst")


def test_values_that_are_no_date_in_the_chosen_format_are_missing() -> None:
    column = pd.Series(["15/01/2023", "30/02/2023", "15/01/23", "soon", "2023-13-01", "12"])
    values, fmt = read_date_column(column, "created")
    assert fmt.order == "dayfirst"
    assert values[0] == pd.Timestamp("2023-01-15")
    assert pd.isna(values[1:]).all()


def test_numbers_are_not_dates_and_typed_columns_keep_their_values() -> None:
    assert pd.isna(read_date_column(pd.Series([20230115, 20230116]), "n")[0]).all()
    typed = pd.Series(pd.to_datetime(["2023-01-15T10:00:00+01:00"], utc=True))
    values, fmt = read_date_column(typed, "t")
    assert fmt.order == "typed" and values[0] == pd.Timestamp("2023-01-15 09:00")


def test_a_survey_fed_in_chunks_decides_as_the_whole_column() -> None:
    """A large file is surveyed chunk by chunk: the proof may come in any chunk."""
    column = pd.Series(["02/01/2023"] * 5 + ["31/01/2023"])
    whole = DateSurvey().add(column)
    chunked = DateSurvey()
    for start in range(0, 6, 2):
        chunked.add(column[start : start + 2])
    assert chunked == whole
    assert decide(chunked, "c").order == "dayfirst"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 12, 31)),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["dayfirst", "monthfirst"]),
)
def test_any_datetimes_written_in_one_convention_read_back_exactly(
    moments: list[datetime], convention: str
) -> None:
    moments = [m.replace(microsecond=0) for m in moments] + [datetime(2023, 1, 13, 8, 0, 1)]
    pattern = "%d/%m/%Y %H:%M:%S" if convention == "dayfirst" else "%m/%d/%Y %H:%M:%S"
    column = pd.Series([m.strftime(pattern) for m in moments])
    values, fmt = read_date_column(column, "c")
    assert fmt.order == convention
    assert list(values) == [pd.Timestamp(m) for m in moments]


def test_parse_dates_reads_pyarrow_chunks_as_series() -> None:
    import pyarrow as pa

    text = ["15/01/2023 23:59:59", None, "2023-01-15T00:00:00.000+0000"]
    fmt = decide(DateSurvey().add(pa.array(text)), "c")
    values = parse_dates(pa.chunked_array([pa.array(text)]), fmt)
    expected = np.array(["2023-01-15T23:59:59", "NaT", "2023-01-15"], dtype="datetime64[ns]")
    assert np.array_equal(values, expected, equal_nan=True)
