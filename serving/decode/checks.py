"""The schema's rules checked on whole columns of a batch: Arrow arrays -> the scorer's arrays.

``serving.schemas.requests.ScoreRequest`` checks one lead at a time, and a 1,000-lead batch through
it builds some 30,000 Python objects. Here the same rules run on the batch's columns at once (the
JSON reader, ``serving.decode.columns``, and the Arrow reader, ``serving.decode.arrow_reader``, both
give such columns), and the valid batch comes out cut at each lead's ``as_of``, as the scorer reads
it.

A fast path, never a second source of error messages: at the first doubt (a value out of
range, an unknown category, a time not read exactly as pydantic reads it, ...) it returns None
and the batch goes through the schema, which names each problem in its lead's slot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.contract import LEADS_COLUMNS, STAGE_RANK, STAGES, TABLES, TOUCH_VOCABULARIES
from features.online import category_array, typed_array
from features.window import VisibleHistory, VisibleStages, VisibleTouches, strictly_before
from serving.decode.iso_times import instants_us
from serving.schemas.requests import CLOCK_SKEW

# the lead attributes with a closed vocabulary (the schema's enums come from the same place)
LEAD_VOCABULARIES = {c.name: c.allowed for c in LEADS_COLUMNS if c.kind == "category" and c.allowed}
_REQUIRED_LEAD = ("lead_id", "created_at", "lead_type")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ColumnBatch:
    """A batch in which every lead is valid, cut at each lead's ``as_of``.

    Attributes:
        lead_ids: as sent, one per lead (echoed back).
        as_of: each lead's decision time, aware UTC (``now`` where none was sent).
        visible: the leads' history as the scorer reads it (rows are the leads' positions).
    """

    lead_ids: list[int | str]
    as_of: list[datetime]
    visible: VisibleHistory


def checked_batch(
    requests: pa.StructArray, *, max_touches: int, now: datetime
) -> ColumnBatch | None:
    """Every rule of ``serving.schemas.requests.ScoreRequest``, on whole columns of requests
    typed as ``batch_schema`` says (timestamps may also be Arrow timestamps); None at the first
    doubt."""
    n = len(requests)
    if requests.null_count:
        return None
    lead = requests.field("lead")
    touch_lists, stage_lists = requests.field("touches"), requests.field("stage_changes")
    if lead.null_count or touch_lists.null_count or stage_lists.null_count:
        return None  # a left-out list is fine for the schema, but looks like null here
    if any(lead.field(name).null_count for name in _REQUIRED_LEAD):
        return None
    latest_us = int((time.time() + CLOCK_SKEW.total_seconds()) * 1e6) - 1_000_000  # 1 s margin

    lead_ids = lead.field("lead_id")
    if pa.types.is_integer(lead_ids.type):
        if pc.min(lead_ids).as_py() < 0:
            return None
    elif not _texts_fit(lead_ids):
        return None
    created_us = instants_us(lead.field("created_at"), latest_us)
    if created_us is None:
        return None
    codes = {name: _codes(lead.field(name), v) for name, v in LEAD_VOCABULARIES.items()}
    if any(c is None for c in codes.values()) or (codes["lead_type"] < 0).any():
        return None
    if not (
        _in_range(lead.field("company_size"), 0, 10_000_000)
        and _in_range(lead.field("annual_revenue"), 0, 1e13)
        and _texts_fit(lead.field("country"))
    ):
        return None

    as_of_text = requests.field("as_of")
    given = np.asarray(pc.is_valid(as_of_text))
    as_of_us = np.full(n, int((now - _EPOCH) / timedelta(microseconds=1)), dtype=np.int64)
    if given.any():
        sent = instants_us(as_of_text.filter(pa.array(given)), latest_us)
        if sent is None:
            return None
        as_of_us[given] = sent
        if (sent < created_us[given]).any():
            return None

    touch_counts = np.asarray(pc.list_value_length(touch_lists))
    if (touch_counts > max_touches).any():
        return None
    touches = touch_lists.flatten()
    touch_rows = np.asarray(pc.list_parent_indices(touch_lists), dtype=np.int64)
    occurred_us = instants_us(touches.field("occurred_at"), latest_us)
    if occurred_us is None or (occurred_us < created_us[touch_rows]).any():
        return None
    touch_codes = {f: _codes(touches.field(f), v) for f, v in TOUCH_VOCABULARIES.items()}
    if any(c is None for c in touch_codes.values()):
        return None
    if (touch_codes["channel"] < 0).any() or (touch_codes["action"] < 0).any():  # required
        return None
    duration = touches.field("duration_s")
    if not _in_range(duration, 0, 86_400):
        return None

    stages = stage_lists.flatten()
    stage_rows = np.asarray(pc.list_parent_indices(stage_lists), dtype=np.int64)
    stage_codes = _codes(stages.field("stage"), STAGES)
    changed_us = instants_us(stages.field("changed_at"), latest_us)
    if stage_codes is None or changed_us is None or (stage_codes < 0).any():
        return None
    if (changed_us < created_us[stage_rows]).any() or not _stages_in_order(
        stage_rows, stage_codes, changed_us
    ):
        return None

    as_of_ns = as_of_us * 1000
    kept, touch_age = strictly_before(touch_rows, occurred_us * 1000, as_of_ns)
    stage_kept, stage_age = strictly_before(stage_rows, changed_us * 1000, as_of_ns)
    return ColumnBatch(
        lead_ids=lead_ids.to_pylist(),
        as_of=_datetimes(as_of_us),
        visible=VisibleHistory(
            points=None,
            as_of_ns=as_of_ns,
            leads=_lead_columns(lead, created_us, codes),
            touches=VisibleTouches(
                row=touch_rows[kept],
                age_ns=touch_age,
                **{f: c[kept] for f, c in touch_codes.items()},
                duration_s=_floats(duration)[kept],
            ),
            stages=VisibleStages(
                row=stage_rows[stage_kept], age_ns=stage_age, stage=stage_codes[stage_kept]
            ),
        ),
    )


def _codes(values: pa.Array, vocabulary: tuple[str, ...]) -> np.ndarray | None:
    """Codes in ``vocabulary`` (-1 where missing), or None if a value is not in it."""
    found = pc.index_in(values, value_set=pa.array(vocabulary))
    if found.null_count != values.null_count:
        return None
    return np.asarray(found.fill_null(-1), dtype=np.int8)


def _in_range(numbers: pa.Array, low: float, high: float) -> bool:
    """Present values within [low, high] and finite (missing ones are fine)."""
    present = numbers.drop_null()
    if len(present) == 0:
        return True
    if pa.types.is_floating(present.type) and not pc.all(pc.is_finite(present)).as_py():
        return False
    return pc.min(present).as_py() >= low and pc.max(present).as_py() <= high


def _texts_fit(texts: pa.Array) -> bool:
    """The schema's ``Text``: 1 to 128 characters (missing is fine where the field allows)."""
    lengths = pc.utf8_length(texts.drop_null())
    return len(lengths) == 0 or (pc.min(lengths).as_py() >= 1 and pc.max(lengths).as_py() <= 128)


def _stages_in_order(rows: np.ndarray, codes: np.ndarray, changed_us: np.ndarray) -> bool:
    """Each stage at most once per lead, never both won and lost, and in funnel order when
    sorted by time (ties by rank): ``ScoreRequest._consistent_history``."""
    if len(rows) == 0:
        return True
    rank = np.array([STAGE_RANK[s] for s in STAGES])[codes]
    order = np.lexsort((rank, changed_us, rows))
    rows, codes, rank = rows[order], codes[order], rank[order]
    same_lead = rows[1:] == rows[:-1]
    if (same_lead & (rank[1:] < rank[:-1])).any():
        return False
    pairs = rows * len(STAGES) + codes
    if len(np.unique(pairs)) != len(pairs):
        return False
    won = np.zeros(rows.max() + 1, dtype=bool)
    lost = np.zeros(rows.max() + 1, dtype=bool)
    won[rows[codes == STAGES.index("won")]] = True
    lost[rows[codes == STAGES.index("lost")]] = True
    return not (won & lost).any()


def _datetimes(micros: np.ndarray) -> list[datetime]:
    """Aware UTC datetimes, one object per distinct time (a batch's leads mostly share one)."""
    distinct, at = np.unique(micros, return_inverse=True)
    made = [_EPOCH + timedelta(microseconds=us) for us in distinct.tolist()]
    return [made[i] for i in at.tolist()]


def _floats(numbers: pa.Array) -> np.ndarray:
    return np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=np.float64)


def _lead_columns(
    lead: pa.StructArray, created_us: np.ndarray, codes: dict[str, np.ndarray]
) -> dict[str, object]:
    """The leads' attributes in the contract's dtypes: closed vocabularies from the codes
    checked above (as ``features.online`` builds them from codes), the rest typed by the same
    code as request records, so both paths hand the features identical columns."""
    columns: dict[str, object] = {"created_at": (created_us * 1000).view("datetime64[ns]")}
    for column in TABLES["leads"]:
        if column.name in codes:
            columns[column.name] = category_array(column, codes[column.name])
        elif column.name not in ("lead_id", "created_at"):
            columns[column.name] = typed_array(column, lead.field(column.name).to_pylist())
    return columns
