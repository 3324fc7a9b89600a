"""Times and words read in C are the values numpy and pyarrow read, and where C is not sure it
says so: the general reading then decides."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from core.contract import ACTIONS, STAGES, TOUCH_VOCABULARIES
from serving.decode.checks import _codes
from serving.decode.iso_times import instants_us, whole_seconds_us
from serving.decode.text_columns import text_columns
from serving.scoring import c_libraries

# every word of the list has the same slot in the hash table (length, first, middle and last
# byte alike), so looking one up walks past the others
SHARED_SLOT = tuple(f"a{k}x{k}a" for k in range(10))  # length 5: bytes 0, 2, 4 are "a", "x", "a"
NEAR_MISSES = ["", "Email_open", "email_opens", "email_ope", "é-mail", "a0x9a", "a1x1a "]


def as_list(values: np.ndarray | None) -> list | None:
    return None if values is None else values.tolist()


@settings(max_examples=200, deadline=None)
@given(data=st.data(), vocabulary=st.sampled_from([*TOUCH_VOCABULARIES.values(), SHARED_SLOT]))
def test_words_have_the_codes_pyarrow_gives(compiled_text, data, vocabulary):
    words = st.sampled_from(vocabulary) | st.none()
    values = data.draw(st.lists(words, min_size=1, max_size=40))
    if data.draw(st.booleans()):  # now and then a word that is none of them
        values[data.draw(st.integers(0, len(values) - 1))] = data.draw(
            st.sampled_from(NEAR_MISSES + [w.upper() for w in vocabulary])
        )
    column = pa.array(["padding", *values]).slice(1)  # a child array starts at an offset too
    expected = _codes(column, vocabulary)  # pyarrow's index_in
    assert as_list(compiled_text.codes(column, vocabulary)) == as_list(expected)
    assert as_list(_codes(column, vocabulary, compiled_text)) == as_list(expected)


def test_words_of_every_vocabulary_are_read_in_c(compiled_text):
    for vocabulary in [*TOUCH_VOCABULARIES.values(), STAGES, SHARED_SLOT]:
        column = pa.array([*vocabulary, None, *reversed(vocabulary)])
        codes = compiled_text.codes(column, vocabulary)
        assert codes is not None
        assert codes.tolist() == [*range(len(vocabulary)), -1, *reversed(range(len(vocabulary)))]
    assert compiled_text.codes(pa.array(["page_view", "no such action"]), ACTIONS) is None
    assert compiled_text.codes(pa.array([1, 2]), ACTIONS) is None  # not text: the general reading's


def test_times_are_read_as_numpy_reads_them(compiled_text):
    rng = np.random.default_rng(3)
    seconds = rng.integers(0, 4_102_444_800, 2_000)  # 1970 to 2100
    texts = np.datetime_as_string(seconds.astype("datetime64[s]")).tolist()
    for zone in ("", "Z"):
        column = pa.array(["padding", *(t + zone for t in texts)]).slice(1)
        compiled = compiled_text.whole_seconds_us(column)
        assert compiled is not None
        assert compiled.tolist() == whole_seconds_us(column).tolist() == (seconds * 10**6).tolist()
    for year in ("0000", "0001", "1600", "1969"):  # before 1970: the caller refuses them
        column = pa.array([f"{year}-03-01T00:00:00", f"{year}-02-28T23:59:59Z"])
        assert (
            compiled_text.whole_seconds_us(column).tolist()
            == whole_seconds_us(
                pa.array([f"{year}-03-01T00:00:00", f"{year}-02-28T23:59:59"])
            ).tolist()
        )


def test_times_of_other_forms_are_left_to_the_general_reading(compiled_text):
    mixed = pa.array(["2025-01-02T03:04:05", "2025-01-02T03:04:05Z"])  # read: both mean UTC
    assert compiled_text.whole_seconds_us(mixed).tolist() == instants_us(mixed, 2**62).tolist()
    for other in (
        "2025-01-02T03:04:05.5",
        "2025-01-02T03:04:05+01:00",
        "2025-02-29T03:04:05",
        "2025-01-02 03:04:05",
        "2025-01-02T24:00:00",
        "2025-1-02T03:04:05Z",
        "2025-01-02T03:04:05 ",
    ):
        column = pa.array(["2025-01-02T03:04:05", other])
        assert compiled_text.whole_seconds_us(column) is None, other
    assert compiled_text.whole_seconds_us(pa.array(["2025-01-02T03:04:05", None])) is None


def test_without_a_compiler_numpy_and_pyarrow_read_them(tmp_path, monkeypatch):
    assert text_columns(None) is None  # compiled code switched off
    monkeypatch.setattr(c_libraries.shutil, "which", lambda name: None)
    assert text_columns(tmp_path) is None
