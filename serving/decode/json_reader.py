"""JSON batches read by ``json_reader.c`` into the arrays pyarrow's JSON reader would give.

pyarrow's reader was 58-66 % of the CPU a 1,000-lead JSON batch costs (21-41 ms of 3.5 MB),
the largest part by far. ``json_reader.c`` follows the batch schema through the body once and
writes the Arrow buffers directly: see its header for what it reads and what it leaves to
pyarrow. The arrays are pyarrow's, to the value: tests compare both readers on generated,
edge-case and mutated bodies. Built at install time (``setup.py``); where it was not built,
pyarrow reads every batch.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from serving.scoring.c_libraries import declared, installed_or_none

log = logging.getLogger(__name__)
_SOURCE = Path(__file__).with_name("json_reader.c")
_STRUCT, _LIST = 0, 1
_LEAVES = {pa.int64(): 2, pa.float64(): 3, pa.bool_(): 4, pa.string(): 5}
_LOAD = declared({
    "read_batch": (ctypes.c_int64, [
        ctypes.c_char_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p,
    ]),
    "release": (None, [ctypes.c_void_p, ctypes.c_int32]),
})  # fmt: skip


class _Node(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int32),
        ("first_child", ctypes.c_int32),
        ("n_children", ctypes.c_int32),
        ("name_length", ctypes.c_int32),
        ("name", ctypes.c_char_p),
    ]


class _Buffer(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("length", ctypes.c_int64), ("capacity", ctypes.c_int64)]


class _Column(ctypes.Structure):
    _fields_ = [
        ("rows", ctypes.c_int64),
        ("nulls", ctypes.c_int64),
        ("valid", _Buffer),
        ("values", _Buffer),
        ("chars", _Buffer),
    ]


@dataclass(frozen=True)
class _Layout:
    """A schema as ``json_reader.c`` walks it: its nodes breadth first (the document first), so
    that each node's children are next to each other."""

    types: list[pa.DataType]
    children: list[range]
    nodes: ctypes.Array

    @classmethod
    def of(cls, schema: pa.Schema) -> _Layout:
        named: list[tuple[bytes, pa.DataType]] = [(b"", pa.struct(list(schema)))]
        children: list[range] = []
        for _, kind in named:  # grows as it goes: breadth first
            inner = list(kind) if pa.types.is_struct(kind) else []
            if pa.types.is_list(kind):
                inner = [kind.value_field]
            elif not inner and kind not in _LEAVES:
                raise TypeError(f"json_reader.c reads no {kind}")
            children.append(range(len(named), len(named) + len(inner)))
            named.extend((field.name.encode(), field.type) for field in inner)
        nodes = (_Node * len(named))()
        for node, (name, kind), inner in zip(nodes, named, children, strict=True):
            node.kind = (
                _STRUCT if pa.types.is_struct(kind) else _LIST if pa.types.is_list(kind)
                else _LEAVES[kind]
            )  # fmt: skip
            node.first_child, node.n_children = inner.start, len(inner)
            node.name_length, node.name = len(name), name
        return cls([kind for _, kind in named], children, nodes)


class JsonBatchReader:
    """``json_reader.c``, loaded: reads a batch body into its requests' StructArray."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self._library = library
        self._layouts: dict[pa.Schema, _Layout] = {}
        self._lock = threading.Lock()

    def requests(self, body: bytes, schema: pa.Schema) -> pa.StructArray | None:
        """The items of the document's one list (``schema``: a list of structs) as pyarrow
        would read them; None where ``json_reader.c`` leaves the body to pyarrow."""
        layout = self._layout(schema)
        columns = (_Column * len(layout.types))()
        try:
            stopped = self._library.read_batch(body, len(body), layout.nodes, len(columns), columns)
            if stopped:
                log.debug("json_reader.c stopped at byte %d: pyarrow reads the batch", stopped - 1)
                return None
            arrays: list[pa.Array | None] = [None] * len(columns)
            for i in reversed(range(len(columns))):  # children first
                inner = [arrays[j] for j in layout.children[i]]
                arrays[i] = _array(layout.types[i], columns[i], inner)
        finally:
            self._library.release(columns, len(columns))
        document = arrays[0]
        document.validate()
        return document.field(0).flatten()

    def _layout(self, schema: pa.Schema) -> _Layout:
        layout = self._layouts.get(schema)
        if layout is None:
            with self._lock:
                layout = self._layouts.setdefault(schema, _Layout.of(schema))
        return layout


def _array(kind: pa.DataType, column: _Column, children: list) -> pa.Array:
    """One node's array from its column's buffers (copied: the C side frees its own)."""
    validity = _copied(column.valid) if column.nulls else None
    if pa.types.is_struct(kind):
        buffers = [None]
    elif pa.types.is_string(kind):
        buffers = [validity, _copied(column.values), _copied(column.chars)]
    else:  # lists (offsets) and the other leaves (values)
        buffers = [validity, _copied(column.values)]
    return pa.Array.from_buffers(
        kind, column.rows, buffers, null_count=column.nulls, children=children or None
    )


def _copied(buffer: _Buffer) -> pa.Buffer:
    return pa.py_buffer(ctypes.string_at(buffer.data, buffer.length) if buffer.length else b"")


def json_batch_reader(cache_dir: Path | None) -> JsonBatchReader | None:
    """``json_reader.c``'s library, built at install time; None (pyarrow reads every batch)
    when ``cache_dir`` is None (compiled code switched off) or it was not built."""
    library = installed_or_none(_SOURCE, cache_dir is not None, _LOAD, "pyarrow reads JSON batches")
    return None if library is None else JsonBatchReader(library)
