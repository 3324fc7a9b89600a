"""A batch's JSON answer is ``rows_of``'s dicts in the ``BatchOut`` shape, serialised as the API
serialises them: awkward text ids come back as sent, times in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from serving.encode.rows import rows_of
from serving.schemas.requests import ScoreRequest
from serving.scoring.scorer import ScoredLeads, score_requests
from tests.serving.codecs.test_batch_arrow import _fixed

NOW = datetime(2026, 1, 1, tzinfo=UTC)
AWKWARD_IDS = ['CRM "7"', "back\\slash", "é-ü-中", "tab\there", "line\u2028sep", "x" * 128]


def scored_of(client, leads: list[dict]) -> ScoredLeads:
    return score_requests(
        client.app.state.models.current,
        [ScoreRequest.model_validate(lead) for lead in leads],
        now=NOW,
        reasons=[False] * len(leads),
        top=3,
    )


def by_rows_of(scored: ScoredLeads) -> bytes:
    """The ``BatchOut`` of leads that were all scored, from ``rows_of``'s dicts."""
    items = [{"index": i, "result": row, "error": None} for i, row in enumerate(rows_of(scored))]
    answer = {"scored": len(items), "invalid": 0, "results": items}
    return orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)


def test_the_api_answers_a_valid_batch_with_rows_of(client, real_leads):
    leads = _fixed(real_leads)
    answer = client.post("/v1/score/batch", json={"leads": leads})
    assert answer.status_code == 200
    assert answer.content == by_rows_of(scored_of(client, leads))


def test_awkward_text_ids_and_other_zones_come_back_as_sent_and_in_utc(client, real_leads):
    leads = _fixed(real_leads)
    for i, lead in enumerate(leads):
        lead["lead"] = {**lead["lead"], "lead_id": AWKWARD_IDS[i % len(AWKWARD_IDS)]}
    leads[1] = {**leads[1], "as_of": "2025-12-01T10:00:00.250+02:00"}  # another zone, a fraction
    answer = client.post("/v1/score/batch", json={"leads": leads})
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [r["result"]["lead_id"] for r in results] == [lead["lead"]["lead_id"] for lead in leads]
    assert results[1]["result"]["as_of"] == "2025-12-01T08:00:00.250000+00:00"
    statuses = {r["result"][t]["status"] for r in results for t in ("mql_to_sql", "sql_to_won")}
    assert {"open", "hypothetical", "converted"} <= statuses  # probabilities and nulls both
