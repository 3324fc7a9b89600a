"""``text_columns.c``, loaded: a batch's timestamps and closed-vocabulary words read in C.

The column-wise checks (``serving.decode.checks``) read some 27,000 timestamps and 75,000
words of closed vocabularies per 1,000-lead batch; numpy's arithmetic and pyarrow's
``index_in`` took 2.2 ms of it. The C loops give the same values (tests compare them with the
general reading on generated times and words) and say when they cannot, so the caller reads
the general way. Built once per machine like the other C code (``serving.scoring.c_libraries``).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pyarrow as pa

from serving.scoring.c_libraries import compiled_or_none, declared

_SOURCE = Path(__file__).with_name("text_columns.c")
_P = ctypes.c_void_p
_LOAD = declared({
    "whole_seconds_us": (ctypes.c_int32, [_P, _P, ctypes.c_int64, _P]),
    "word_codes": (ctypes.c_int32, [
        _P, _P, _P, ctypes.c_int64, ctypes.c_int64, _P, _P, ctypes.c_int32, _P,
    ]),
})  # fmt: skip


class TextColumns:
    """``text_columns.c``, loaded; keeps each vocabulary's words laid out as C reads them."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self._library = library
        self._vocabularies: dict[tuple[str, ...], tuple[np.ndarray, bytes]] = {}

    def whole_seconds_us(self, texts: pa.Array) -> np.ndarray | None:
        """``serving.decode.iso_times.whole_seconds_us`` of ``texts`` (no nulls), text by text: a
        column mixing times with and without Z is read too. None: read them the general way."""
        if texts.type != pa.string() or texts.null_count or not len(texts):
            return None
        offsets, chars = string_layout(texts)
        out = np.empty(len(texts), dtype=np.int64)
        failed = self._library.whole_seconds_us(
            offsets.ctypes.data, _address(chars), len(texts), out.ctypes.data
        )
        return None if failed else out

    def codes(self, values: pa.Array, vocabulary: tuple[str, ...]) -> np.ndarray | None:
        """Each value's position in ``vocabulary`` (-1 where missing). None: a value is not in
        it, or the column is not one this reads; read it the general way."""
        if values.type != pa.string() or not len(values) or len(vocabulary) > 127:
            return None
        word_offsets, words = self._vocabulary(vocabulary)
        offsets, chars = string_layout(values)
        valid = values.buffers()[0] if values.null_count else None
        out = np.empty(len(values), dtype=np.int8)
        failed = self._library.word_codes(
            offsets.ctypes.data,
            _address(chars),
            _address(valid),
            values.offset,
            len(values),
            word_offsets.ctypes.data,
            words,
            len(vocabulary),
            out.ctypes.data,
        )
        return None if failed else out

    def _vocabulary(self, vocabulary: tuple[str, ...]) -> tuple[np.ndarray, bytes]:
        known = self._vocabularies.get(vocabulary)
        if known is None:
            encoded = [word.encode() for word in vocabulary]
            starts = np.cumsum([0, *map(len, encoded)], dtype=np.int32)
            known = self._vocabularies[vocabulary] = (starts, b"".join(encoded))
        return known


def string_layout(texts: pa.Array) -> tuple[np.ndarray, pa.Buffer | None]:
    """A string array's offsets (its own: from the array's offset on) into its bytes, and the
    bytes."""
    _, offsets, chars = texts.buffers()
    return np.frombuffer(offsets, np.int32)[texts.offset : texts.offset + len(texts) + 1], chars


def _address(buffer: pa.Buffer | None) -> int | None:
    return None if buffer is None or buffer.size == 0 else buffer.address


def text_columns(cache_dir: Path | None) -> TextColumns | None:
    """``text_columns.c`` built (or found) in ``cache_dir``; None (numpy and pyarrow read the
    columns) when ``cache_dir`` is None or it cannot be built."""
    library = compiled_or_none(_SOURCE, cache_dir, _LOAD, "numpy and pyarrow read text columns")
    return None if library is None else TextColumns(library)
