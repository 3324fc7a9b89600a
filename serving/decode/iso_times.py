"""ISO 8601 times in an Arrow array -> UTC microseconds since 1970, as the API's schema reads them.

Used by the column-wise checks of batches (``serving.decode.checks``): whatever is read here,
pydantic reads as the same instant; whatever is not certain (a form the regex does not cover,
a time before 1970 or in the future) gives None and the batch goes the schema's way, lead by
lead.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# what this path reads as a timestamp: ISO 8601 with seconds, up to microseconds, Z or an
# offset or no zone (UTC); pydantic reads all of these the same way, and more (those go the
# schema's way)
_ISO = (
    r"^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?"
    r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$"
)
_ZONED = r"(Z|[+-]\d\d:\d\d)$"
# the common form YYYY-MM-DDTHH:MM:SS[Z]: where its separators and digits stand, and the
# place values of each field's digits
_SEPARATOR_AT = np.array([4, 7, 10, 13, 16])
_SEPARATORS = np.frombuffer(b"--T::", dtype=np.uint8)
_DIGIT_AT = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
_FIELDS = tuple(  # year, month, day, hour, minute, second: (row in the digits, place value)
    tuple((at, 10 ** (stop - at - 1)) for at in range(start, stop))
    for start, stop in ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 14))
)
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def instants_us(texts: pa.Array, latest_us: int) -> np.ndarray | None:
    """Timestamps (all present) as UTC microseconds since 1970, or None if any is not plain
    ISO 8601, lies before 1970 or after now (plus the schema's clock skew)."""
    if texts.null_count:
        return None
    if len(texts) == 0:
        return np.empty(0, dtype=np.int64)
    if pa.types.is_timestamp(texts.type):  # from an Arrow batch: no zone means UTC, as in text
        micros = np.asarray(pc.cast(texts, pa.timestamp("us", tz=texts.type.tz)).cast(pa.int64()))
        return None if micros.min() < 0 or micros.max() > latest_us else micros
    micros = whole_seconds_us(texts)
    if micros is None:  # fractions, offsets, a mix of forms, or not a timestamp at all
        if not pc.all(pc.match_substring_regex(texts, _ISO)).as_py():
            return None
        zoned = pc.match_substring_regex(texts, _ZONED)
        utc = pc.if_else(zoned, texts, pc.binary_join_element_wise(texts, "Z", ""))
        micros = np.asarray(pc.cast(utc, pa.timestamp("us", tz="UTC")).cast(pa.int64()))
    if micros.min() < 0 or micros.max() > latest_us:
        return None
    return micros


def whole_seconds_us(texts: pa.Array) -> np.ndarray | None:
    """The common form, ``YYYY-MM-DDTHH:MM:SS`` all with or all without ``Z``, read straight
    from the array's bytes with array arithmetic (a sixth of the time regex and cast take for
    a batch's touches); None for anything else, which the general reading then takes."""
    offsets, bytes_of = string_layout(texts)
    width = int(offsets[1] - offsets[0])
    if width not in (19, 20) or int(offsets[-1] - offsets[0]) != width * len(texts):
        return None
    chars = np.frombuffer(bytes_of, dtype=np.uint8)[offsets[0] : offsets[-1]]
    chars = chars.reshape(len(texts), width)
    if (chars[:, _SEPARATOR_AT] != _SEPARATORS).any() or (
        width == 20 and (chars[:, 19] != ord("Z")).any()
    ):
        return None
    digits = chars[:, _DIGIT_AT] - np.uint8(ord("0"))  # wraps past 9 below "0"
    if (digits > 9).any():
        return None
    digits = np.ascontiguousarray(digits.T, dtype=np.int32)  # a row per digit position
    year, month, day, hour, minute, second = (
        sum(digits[at] * place for at, place in fields) for fields in _FIELDS
    )
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    if (
        (month < 1)
        | (month > 12)
        | (day < 1)
        | (day > _MONTH_DAYS[(month - 1) % 12] + (leap & (month == 2)))
        | (hour > 23)
        | (minute > 59)
        | (second > 59)
    ).any():
        return None
    seconds = _days_since_1970(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second
    return seconds * 1_000_000


def string_layout(texts: pa.Array) -> tuple[np.ndarray, pa.Buffer | None]:
    """A string array's offsets (its own: from the array's offset on) into its bytes, and the
    bytes."""
    _, offsets, chars = texts.buffers()
    return np.frombuffer(offsets, np.int32)[texts.offset : texts.offset + len(texts) + 1], chars


def _days_since_1970(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days from 1970-01-01 of proleptic Gregorian dates (H. Hinnant's days_from_civil)."""
    year = year - (month <= 2)
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468
