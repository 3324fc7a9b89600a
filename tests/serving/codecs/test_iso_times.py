"""ISO times read from an Arrow array's bytes (numpy's arithmetic) agree with the general
reading (regex + cast)."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import example, given, settings
from hypothesis import strategies as st

from serving.decode.iso_times import _ISO, instants_us, whole_seconds_us

# year, month, day, hour, minute, second: a little beyond each field's valid range
_STAMP_PARTS = ((1969, 2401), (0, 13), (0, 32), (0, 24), (0, 60), (0, 60))


@settings(max_examples=300, deadline=None)
@given(
    stamps=st.lists(
        st.tuples(*(st.integers(low, high) for low, high in _STAMP_PARTS)), min_size=1, max_size=8
    ),
    zone=st.sampled_from(["", "Z"]),
)
@example(stamps=[(y, 2, 29, 0, 0, 0) for y in (1900, 2000, 2024, 2025, 2100, 2400)], zone="")
@example(stamps=[(2025, 4, 31, 0, 0, 0), (2025, 12, 31, 23, 59, 59)], zone="Z")
@example(stamps=[(2024, 2, 29, 12, 0, 0), (2000, 2, 29, 0, 0, 1)], zone="")
def test_whole_second_timestamps_read_as_the_general_reading_does(stamps, zone):
    # the array arithmetic for the common form must agree with regex + pyarrow's cast on
    # every digit pattern, invalid dates (Feb 29 of a common year, day 31 of a 30-day month,
    # hour 24) included: a value either reads the same or makes the batch go the schema's way
    texts = [
        f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{zone}" for y, mo, d, h, mi, s in stamps
    ]
    array = pa.array(["padding", *texts]).slice(1)  # a child array starts at an offset too
    fast = whole_seconds_us(array)
    try:
        general = pc.cast(
            pa.array([t.removesuffix("Z") + "Z" for t in texts]), pa.timestamp("us", "UTC")
        )
        expected = np.asarray(general.cast(pa.int64()))
    except pa.ArrowInvalid:
        expected = None
    if expected is None or any(re.fullmatch(_ISO, t) is None for t in texts):
        assert fast is None
    else:
        assert fast is not None and fast.tolist() == expected.tolist()


def test_timestamps_of_other_forms_are_read_by_the_general_reading():
    mixed = pa.array(["2025-01-02T03:04:05", "2025-01-02T03:04:05Z"])
    fractions = pa.array(["2025-01-02T03:04:05.5"])
    assert whole_seconds_us(mixed) is None and whole_seconds_us(fractions) is None
    latest = 2**62
    assert instants_us(mixed, latest).tolist() == [1735787045000000] * 2
    assert instants_us(fractions, latest).tolist() == [1735787045500000]
