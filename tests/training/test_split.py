"""The time split: older rows train, newer rows validate and test; never across time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError, TooFewRowsError
from training.split import MIN_ROWS_PER_OUTCOME, require_outcomes, time_split


def _frame(times: list[str] | pd.DatetimeIndex) -> pd.DataFrame:
    times = pd.to_datetime(pd.Series(times))
    return pd.DataFrame({"decision_time": times, "label": np.arange(len(times)) % 2})


def test_every_test_row_is_newer_than_every_validation_row_and_training_row():
    rng = np.random.default_rng(0)
    times = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 700, 1000), unit="D")
    split = time_split(_frame(times).sample(frac=1.0, random_state=1))
    assert split.train["decision_time"].max() < split.validation["decision_time"].min()
    assert split.validation["decision_time"].max() < split.test["decision_time"].min()
    assert len(split.train) + len(split.validation) + len(split.test) == 1000
    assert 130 <= len(split.test) <= 170


def test_rows_sharing_a_decision_time_stay_on_one_side():
    times = ["2024-01-01"] * 50 + ["2024-02-01"] * 30 + ["2024-03-01"] * 20
    split = time_split(_frame(times))
    for part in (split.train, split.validation, split.test):
        for other in (split.train, split.validation, split.test):
            if part is not other:
                assert not set(part["decision_time"]) & set(other["decision_time"])


def test_too_few_distinct_times_is_a_clear_error():
    with pytest.raises(InputError, match="decision_time: too few distinct times"):
        time_split(_frame(["2024-01-01"] * 10))


def test_too_few_rows_of_an_outcome_in_any_part_names_every_part_and_its_need():
    parts = {
        "train": np.array([1] * 11 + [0] * 8),
        "validation": np.array([1, 0, 0, 0]),
        "test": np.array([0] * 5),
    }
    with pytest.raises(TooFewRowsError) as caught:
        require_outcomes("mql_to_sql", parts)
    message = str(caught.value)
    assert message.startswith("mql_to_sql: too few rows")
    assert "train 11/8 (needs 10/10)" in message
    assert "validation 1/3 (needs 5/5)" in message
    assert "test 0/5 (needs 5/5)" in message
    assert caught.value.counts["test"] == (0, 5)
    assert caught.value.exit_code == 2
    assert "\n" not in message


def test_enough_rows_of_each_outcome_pass():
    parts = {part: np.array([1, 0] * need) for part, need in MIN_ROWS_PER_OUTCOME.items()}
    require_outcomes("sql_to_won", parts)  # raises nothing


def _labelled(train: list[int], validation: list[int], test: list[int]):
    """A split whose parts hold these labels, each part on its own days."""
    from training.split import TimeSplit

    def part(labels: list[int], start: str) -> pd.DataFrame:
        times = pd.date_range(start, periods=len(labels), freq="h")
        return pd.DataFrame({"decision_time": times, "label": labels})

    return TimeSplit(
        part(train, "2024-01-01"),
        part(validation, "2024-06-01"),
        part(test, "2024-09-01"),
        (pd.Timestamp("2024-06-01"), pd.Timestamp("2024-09-01")),
    )


def test_the_floor_is_for_too_few_conversions_in_all_or_in_any_part():
    from training.split import floor_reason

    enough = _labelled([1] * 14 + [0] * 40, [1] * 5 + [0] * 9, [1] * 5 + [0] * 9)
    assert floor_reason(enough) is None  # 24 converted rows
    assert floor_reason(enough, min_positives=25) == (
        "24 converted rows, fewer than the 25 needed to learn from"
    )
    thin_test = _labelled([1] * 20 + [0] * 40, [1] * 5 + [0] * 9, [1] * 3 + [0] * 9)
    assert floor_reason(thin_test) == (
        "the time split leaves test 3/9 converted/not converted rows; a learned model needs 5/5"
    )


def test_the_floor_needs_two_rows_of_each_outcome_to_calibrate_on():
    from training.split import require_floor_rows

    require_floor_rows("sql_to_won", _labelled([1, 0, 0], [1, 0], [0]))  # 2/3: enough
    with pytest.raises(TooFewRowsError) as caught:
        require_floor_rows("sql_to_won", _labelled([1, 0, 0], [0, 0], [1]))
    assert str(caught.value).startswith("sql_to_won: too few rows")
    assert "train and validation 1/4 (needs 2/2)" in str(caught.value)
