"""A batch's JSON answer written column by column is, byte for byte, the answer ``rows_of``
gives serialised as the API serialises it; whatever it cannot write that way, it leaves to
``rows_of``."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest

from serving.encode.json_writer import JsonAnswerWriter, json_answer_writer
from serving.encode.rows import rows_of
from serving.schemas.requests import ScoreRequest
from serving.scoring import c_libraries
from serving.scoring.scorer import ScoredLeads, score_requests
from tests.serving.test_batch_arrow import _fixed

NOW = datetime(2026, 1, 1, tzinfo=UTC)
AWKWARD_IDS = ['CRM "7"', "back\\slash", "é-ü-中", "tab\there", "line\u2028sep", "x" * 128]


@pytest.fixture
def writer(client) -> JsonAnswerWriter:
    assert client.app.state.json_writer is not None  # the API compiled it at start-up
    return client.app.state.json_writer


def scored_of(client, leads: list[dict], reasons: bool = False) -> ScoredLeads:
    return score_requests(
        client.app.state.models.current,
        [ScoreRequest.model_validate(lead) for lead in leads],
        now=NOW,
        reasons=[reasons] * len(leads),
        top=3,
    )


def by_rows_of(scored: ScoredLeads) -> bytes:
    """The ``BatchOut`` of leads that were all scored, from ``rows_of``'s dicts."""
    items = [{"index": i, "result": row, "error": None} for i, row in enumerate(rows_of(scored))]
    answer = {"scored": len(items), "invalid": 0, "results": items}
    return orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)


@pytest.mark.parametrize("ids", ["numbers", "text"])
def test_the_answer_is_rows_of_serialised_byte_for_byte(client, writer, real_leads, ids):
    leads = [dict(lead) for lead in real_leads]
    if ids == "text":
        for i, lead in enumerate(leads):
            lead["lead"] = {**lead["lead"], "lead_id": AWKWARD_IDS[i % len(AWKWARD_IDS)]}
    leads[1] = {**leads[1], "as_of": "2025-12-01T10:00:00.250+02:00"}  # another zone, a fraction
    scored = scored_of(client, leads)
    statuses = {p[0] for t in scored.transitions.values() for p in t.parts}
    assert {"open", "hypothetical", "converted"} <= statuses  # probabilities and nulls both
    assert (scored.rule_points % 1 != 0).any()  # decayed points: floats, not only integers
    written = writer.batch_answer(scored)
    assert written == by_rows_of(scored)
    second = orjson.loads(written)["results"][1]["result"]
    assert second["as_of"] == "2025-12-01T08:00:00.250000+00:00"  # in UTC, as rows_of writes


def test_the_api_answers_a_valid_batch_with_it(client, real_leads):
    leads = _fixed(real_leads)
    answer = client.post("/v1/score/batch", json={"leads": leads})
    assert answer.status_code == 200
    assert answer.content == by_rows_of(scored_of(client, leads))


def test_leads_with_reasons_are_left_to_rows_of(client, writer, real_leads):
    assert writer.batch_answer(scored_of(client, real_leads[:5], reasons=True)) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda s: dataclasses.replace(s, stage=s.stage[:-1]),  # an item short
        lambda s: dataclasses.replace(s, priority=[*s.priority, "hot"]),  # one left over
        lambda s: dataclasses.replace(s, rule_names=s.rule_names[:-1]),  # points left over
        lambda s: dataclasses.replace(s, hand_set_points=np.ones((len(s), 2))),  # nested
    ],
    ids=["short", "left-over", "points-left-over", "nested"],
)
def test_columns_that_do_not_hold_one_item_per_lead_are_left_to_rows_of(
    client, writer, real_leads, change
):
    scored = scored_of(client, real_leads[:6])
    assert writer.batch_answer(scored) is not None
    assert writer.batch_answer(change(scored)) is None


def test_without_a_compiler_rows_of_writes_every_answer(tmp_path, monkeypatch):
    assert json_answer_writer(None) is None  # compiled code switched off
    monkeypatch.setattr(c_libraries.shutil, "which", lambda name: None)
    assert json_answer_writer(tmp_path) is None
