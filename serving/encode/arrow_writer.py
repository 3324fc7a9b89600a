"""A batch's answer as an Arrow IPC stream, for clients that ask for one (``Accept``).

The table has the JSON answer's shape: one row per lead in request order, with ``index``,
``result`` (a struct shaped like ``ScoreOut``, null for an invalid lead) and ``error`` (null
for a scored lead); ``scored`` and ``invalid`` are in the schema's metadata. Where JSON's
types do not fit a column, docs/api.md says what differs: ``as_of`` is a timestamp, a reason's
value is in ``value`` (a number) or ``value_text`` (a category), an error's ``lead_id`` and
``errors`` are JSON text, and ``lead_id`` is text for the whole batch unless every id is a
number.

The columns come straight from the scorer's arrays (``ScoredLeads``): no row per lead is built,
which is most of what a JSON answer costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from core.contract import TRANSITIONS
from serving.encode.rows import model_ref, within_days
from serving.scoring.scorer import ScoredLeads, TransitionScores

_TEXT = pa.string()
_MODEL = pa.struct([("name", _TEXT), ("version", _TEXT), ("alias", _TEXT)])
_REASON = pa.struct(
    [
        ("feature", _TEXT),
        ("value", pa.float64()),
        ("value_text", _TEXT),
        ("contribution", pa.float64()),
        ("text", _TEXT),
    ]
)
_REASONS = pa.list_(_REASON)
_ERROR = pa.struct([("index", pa.int64()), ("lead_id", _TEXT), ("errors", _TEXT)])
_AS_OF = pa.timestamp("us", tz="UTC")
_WITHIN = pa.map_(_TEXT, pa.float64())


def arrow_answer(
    scored: ScoredLeads | None,
    positions: Sequence[int],
    items: list[dict] | None,
    rule_names: Sequence[str],
) -> bytes:
    """The stream of a batch whose leads at ``positions`` were ``scored``; ``items`` (one per
    lead, as ``serving.decode.body`` reads them) holds the others' errors, ``None`` when every
    lead was scored. ``rule_names`` type the hand-set points when no lead was scored."""
    size = len(items) if items is not None else len(positions)
    if scored is None:
        results = pa.nulls(size, _result_type(rule_names, pa.int64()))
    else:
        results = _results(scored)
        if len(positions) < size:  # invalid leads' rows are null
            at: list[int | None] = [None] * size
            for k, position in enumerate(positions):
                at[position] = k
            results = results.take(pa.array(at, pa.int64()))
    errors = [None] * size if items is None else [_error(item["error"]) for item in items]
    table = pa.table(
        {
            "index": pa.array(np.arange(size, dtype=np.int64)),
            "result": results,
            "error": pa.array(errors, _ERROR),
        },
        metadata={"scored": str(len(positions)), "invalid": str(size - len(positions))},
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _error(error: dict | None) -> dict | None:
    if error is None:
        return None
    return {
        "index": error["index"],
        "lead_id": orjson.dumps(error["lead_id"]).decode(),
        "errors": orjson.dumps(error["errors"]).decode(),
    }


def _result_type(rule_names: Sequence[str], lead_id: pa.DataType) -> pa.StructType:
    transition = pa.struct(
        [
            ("status", _TEXT),
            ("probability", pa.float64()),
            ("within_days", _WITHIN),
            ("note", _TEXT),
            ("model", _MODEL),
            ("reasons_up", _REASONS),
            ("reasons_down", _REASONS),
        ]
    )
    hand_set = pa.struct(
        [
            ("points", pa.float64()),
            ("threshold", pa.float64()),
            ("passes_threshold", pa.bool_()),
            ("points_per_rule", pa.struct([(name, pa.float64()) for name in rule_names])),
        ]
    )
    return pa.struct(
        [
            ("lead_id", lead_id),
            ("as_of", _AS_OF),
            ("stage", _TEXT),
            ("priority", _TEXT),
            ("hand_set", hand_set),
            *((name, transition) for name in TRANSITIONS),
        ]
    )


def _results(scored: ScoredLeads) -> pa.StructArray:
    n = len(scored)
    points = scored.hand_set_points
    per_rule = [pa.array(column) for column in scored.rule_points.T]
    hand_set = pa.StructArray.from_arrays(
        [
            pa.array(points, pa.float64()),
            pa.array(np.full(n, scored.threshold)),
            pa.array(points >= scored.threshold),
            pa.StructArray.from_arrays(per_rule, names=scored.rule_names),  # rules: at least one
        ],
        names=["points", "threshold", "passes_threshold", "points_per_rule"],
    )
    lead_ids = _lead_ids(scored.lead_ids)
    return pa.StructArray.from_arrays(
        [
            lead_ids,
            pa.array(scored.as_of, _AS_OF),
            pa.array(scored.stage, _TEXT),
            pa.array(scored.priority, _TEXT),
            hand_set,
            *(_transition(scored.transitions[t], n) for t in TRANSITIONS),
        ],
        fields=list(_result_type(scored.rule_names, lead_ids.type)),
    )


def _lead_ids(lead_ids: Sequence[int | str]) -> pa.Array:
    """Numbers (the schema holds them within int64) if every id is one, else text."""
    if all(type(lead_id) is int for lead_id in lead_ids):
        return pa.array(lead_ids, pa.int64())
    return pa.array([str(lead_id) for lead_id in lead_ids], _TEXT)


def _transition(scores: TransitionScores, n: int) -> pa.StructArray:
    ref = model_ref(scores)
    model = pa.StructArray.from_arrays(
        [pa.array([ref[key]] * n, _TEXT) for key in ("name", "version", "alias")],
        names=["name", "version", "alias"],
    )
    up: list[list[dict] | None] = [None] * n
    down: list[list[dict] | None] = [None] * n
    for i, (lead_up, lead_down) in scores.reasons.items():
        up[i], down[i] = _reasons(lead_up), _reasons(lead_down)
    return pa.StructArray.from_arrays(
        [
            pa.array([status for status, _, _ in scores.parts], _TEXT),
            pa.array(scores.probability, pa.float64(), from_pandas=True),  # NaN -> null
            pa.array([None if w is None else list(w.items()) for w in _within(scores)], _WITHIN),
            pa.array([note for _, note, _ in scores.parts], _TEXT),
            model,
            pa.array(up, _REASONS),
            pa.array(down, _REASONS),
        ],
        names=[
            "status",
            "probability",
            "within_days",
            "note",
            "model",
            "reasons_up",
            "reasons_down",
        ],
    )


def _within(scores: TransitionScores) -> list[dict[str, float] | None]:
    """As the JSON answer: a lead without a probability has no horizon probabilities."""
    return [
        within if has_p else None
        for (_, _, has_p), within in zip(scores.parts, within_days(scores), strict=True)
    ]


def _reasons(reasons: list[dict]) -> list[dict[str, Any]]:
    """JSON's ``value`` (a number, a category or null) as two typed fields."""
    return [
        {
            "feature": reason["feature"],
            "value": None if isinstance(reason["value"], str) else reason["value"],
            "value_text": reason["value"] if isinstance(reason["value"], str) else None,
            "contribution": reason["contribution"],
            "text": reason["text"],
        }
        for reason in reasons
    ]
