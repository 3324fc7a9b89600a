"""Batches sent as an Arrow IPC stream (``application/vnd.apache.arrow.stream``).

A data team scoring a table of leads from a warehouse, Spark or Dask already holds it as Arrow:
one row per lead with the columns of a JSON batch's leads (``lead`` a struct, ``touches`` and
``stage_changes`` lists of structs, ``as_of``), which ``pyarrow.Table.from_pylist`` makes from
the JSON leads as they are. Reading it costs next to nothing, where parsing the same batch as
JSON is a third of its CPU time; timestamps may be Arrow timestamps (no zone means UTC) or ISO
text, text columns may be dictionary-encoded.

A table of exactly those types, every lead valid, is checked column-wise by the same code as a
JSON batch (``serving.decode.checks.checked_batch``). Anything else (another type, a column the
API does not know, an invalid lead) goes to the schema lead by lead, from the table's rows as
records, so each problem is reported in its lead's slot with the same messages as for JSON.
Bytes that are not an Arrow stream are a 400.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import HTTPException

from serving.decode.body import check_lead_count
from serving.decode.checks import ColumnBatch, checked_batch
from serving.decode.columns import batch_schema
from serving.schemas.requests import LeadIn, ScoreRequest, StageChangeIn, TouchIn

ARROW_STREAM = "application/vnd.apache.arrow.stream"
log = logging.getLogger(__name__)


def is_arrow(content_type: str | None) -> bool:
    return (content_type or "").partition(";")[0].strip().lower() == ARROW_STREAM


def accepts_arrow(accept: str | None) -> bool:
    """Whether an ``Accept`` header prefers the Arrow stream: it names it with a quality above
    0 and at least that of every other media range it names (JSON otherwise)."""
    arrow_q, other_q = 0.0, 0.0
    for media_range in (accept or "").split(","):
        media_type, *params = media_range.split(";")
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media_type.strip().lower() == ARROW_STREAM:
            arrow_q = max(arrow_q, q)
        elif media_type.strip():
            other_q = max(other_q, q)
    return arrow_q > 0 and arrow_q >= other_q


def read_arrow_batch(
    body: bytes,
    *,
    max_leads: int,
    max_touches: int,
    now: datetime,
) -> ColumnBatch | list:
    """The batch read column-wise if every lead in it is valid and typed as expected; else its
    rows as records, for the schema to check lead by lead. 400 if ``body`` is not an Arrow
    IPC stream of a table, the request's 422 if it holds more than ``max_leads`` rows."""
    table = _table(body)
    check_lead_count(table.num_rows, max_leads)  # before any row becomes Python objects
    try:
        requests = _requests(table)
        if requests is not None:
            batch = checked_batch(requests, max_touches=max_touches, now=now)
            if batch is not None:
                return batch
    except (pa.ArrowException, OverflowError, UnicodeDecodeError):
        pass  # e.g. sub-microsecond times, text that is not UTF-8: the schema's way
    except Exception:  # the column-wise reading must never cost an answer
        log.exception("column-wise reading of an Arrow batch failed; validating lead by lead")
    try:
        return [_without_unknown_nulls(record) for record in table.to_pylist()]
    except (pa.ArrowException, ValueError) as error:  # names or text that are not UTF-8
        raise _unreadable(error) from error


def _table(body: bytes) -> pa.Table:
    try:
        with pa.ipc.open_stream(pa.py_buffer(body)) as reader:
            table = reader.read_all()
        table.validate(full=True)  # offsets and lengths in range before any kernel reads them
    except (pa.ArrowException, ValueError, OSError) as error:
        raise _unreadable(error) from error
    return table.combine_chunks()


def _unreadable(error: Exception) -> HTTPException:
    return HTTPException(
        400, f"the body is not a readable Arrow IPC stream ({ARROW_STREAM}): {error}"
    )


# what the schema knows at each level of a request (an Arrow table is rectangular: a column
# one lead fills is null in every other lead's row, which is no value there, not a field)
_KNOWN = {
    "request": frozenset(ScoreRequest.model_fields),
    "lead": frozenset(LeadIn.model_fields),
    "touches": frozenset(TouchIn.__annotations__),
    "stage_changes": frozenset(StageChangeIn.__annotations__),
}


def _without_unknown_nulls(request: dict) -> dict:
    """A row as a JSON client would have sent it: nulls of fields the schema does not know are
    left out (a value in one is still the schema's to refuse)."""

    def known(record: Any, level: str) -> Any:
        if not isinstance(record, dict):
            return record
        return {k: v for k, v in record.items() if v is not None or k in _KNOWN[level]}

    out = known(request, "request")
    if "lead" in out:
        out["lead"] = known(out["lead"], "lead")
    for level in ("touches", "stage_changes"):
        if isinstance(out.get(level), list):
            out[level] = [known(event, level) for event in out[level]]
    return out


def _requests(table: pa.Table) -> pa.StructArray | None:
    """The table as the requests ``checked_batch`` reads, or None if a column is not of a type
    that converts exactly (the schema then judges the records)."""
    if "lead" not in table.column_names or not set(table.column_names) <= _KNOWN["request"]:
        return None
    lead = table.column("lead").chunk(0) if table.num_rows else None
    if lead is None or not pa.types.is_struct(lead.type):
        return None
    id_type = lead.type.field("lead_id").type if lead.type.get_field_index("lead_id") >= 0 else None
    if id_type is None or not (pa.types.is_integer(id_type) or _is_text(id_type)):
        return None
    expected = batch_schema(pa.int64() if pa.types.is_integer(id_type) else pa.string())
    request_type = expected.field("leads").type.value_type
    children = []
    for field in request_type:
        if field.name in table.column_names:
            child = _conformed(table.column(field.name).chunk(0), field.type)
        elif pa.types.is_list(field.type):  # a list left out is empty, as in the schema
            child = pa.ListArray.from_arrays(
                pa.array([0] * (table.num_rows + 1), pa.int32()),
                pa.array([], field.type.value_type),
            )
        else:
            child = pa.nulls(table.num_rows, field.type)
        if child is None:
            return None
        children.append(child)
    return pa.StructArray.from_arrays(children, names=[f.name for f in request_type])


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _conformed(array: pa.Array, expected: pa.DataType) -> pa.Array | None:
    """``array`` as ``expected`` where that changes no value: null columns, fields left out,
    wider or narrower integers, large or dictionary-encoded text, timestamps for text times;
    None for anything else."""
    kind = array.type
    if kind == expected:
        return array
    if pa.types.is_null(kind):
        return pa.nulls(len(array), expected)
    if pa.types.is_struct(expected):
        if not pa.types.is_struct(kind) or not {f.name for f in kind} <= {f.name for f in expected}:
            return None
        given = dict(zip([f.name for f in kind], array.flatten(), strict=True))
        children = [
            _conformed(given[f.name], f.type) if f.name in given else pa.nulls(len(array), f.type)
            for f in expected
        ]
        if any(c is None for c in children):
            return None
        names = [f.name for f in expected]  # a time field may stay an Arrow timestamp
        return pa.StructArray.from_arrays(children, names=names, mask=array.is_null())
    if pa.types.is_list(expected):
        if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
            return None
        values = _conformed(array.values, expected.value_type)
        if values is None:
            return None
        offsets = pc.cast(array.offsets, pa.int32())
        return pa.ListArray.from_arrays(offsets, values, mask=array.is_null())
    if pa.types.is_string(expected):
        if pa.types.is_timestamp(kind):  # a time: read as such by ``instants_us``
            return array
        if pa.types.is_large_string(kind) or (
            pa.types.is_dictionary(kind) and _is_text(kind.value_type)
        ):
            return array.cast(pa.string())
        return None
    if pa.types.is_integer(expected) and pa.types.is_integer(kind):
        return array.cast(expected)  # safe: fails (-> records) rather than wrap around
    if pa.types.is_float64(expected) and (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        return array.cast(expected)
    return None
