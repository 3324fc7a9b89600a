"""A batch answered as an Arrow IPC stream (``Accept``) holds the JSON answer, lead by lead, in
the documented shape: whichever body the batch came as, with reasons, invalid leads or none
scored."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from serving.decode.arrow_reader import ARROW_STREAM, accepts_arrow
from tests.serving.codecs.test_batch_arrow import _fixed, as_arrow

WANTS_ARROW = {"accept": ARROW_STREAM}


def table_of(response) -> pa.Table:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == ARROW_STREAM
    return pa.ipc.open_stream(response.content).read_all()


def as_json_answer(table: pa.Table) -> dict:
    """The JSON answer the table holds, by the differences docs/api.md lists."""
    items = table.to_pylist()
    for item in items:
        result, error = item["result"], item["error"]
        if result is not None:
            result["as_of"] = result["as_of"].isoformat()
            for transition in ("mql_to_sql", "sql_to_won"):
                entry = result[transition]
                if entry["within_days"] is not None:  # a map: (key, value) pairs
                    entry["within_days"] = dict(entry["within_days"])
                for side in ("reasons_up", "reasons_down"):
                    if entry[side] is None:  # JSON leaves the key out
                        del entry[side]
                        continue
                    for reason in entry[side]:
                        text = reason.pop("value_text")
                        reason["value"] = text if text is not None else reason["value"]
        if error is not None:
            error["lead_id"] = json.loads(error["lead_id"])
            error["errors"] = json.loads(error["errors"])
    metadata = table.schema.metadata
    return {
        "scored": int(metadata[b"scored"]),
        "invalid": int(metadata[b"invalid"]),
        "results": items,
    }


@pytest.mark.parametrize("ids", ["numbers", "text"])
def test_every_lead_holds_its_json_answer_from_either_body(client, real_leads, ids):
    leads = _fixed(real_leads)
    if ids == "text":
        for lead in leads:
            lead["lead"]["lead_id"] = f"CRM-{lead['lead']['lead_id']}"
    url = "/v1/score/batch?reasons=true"
    from_json = client.post(url, json={"leads": leads}).json()
    explained = [
        item for item in from_json["results"] if "reasons_up" in item["result"]["mql_to_sql"]
    ]
    assert explained  # the comparison covers reasons
    answer = client.post(url, json={"leads": leads}, headers=WANTS_ARROW)
    table = table_of(answer)
    assert as_json_answer(table) == from_json
    lead_id = table.schema.field("result").type.field("lead_id").type
    assert lead_id == (pa.int64() if ids == "numbers" else pa.string())
    arrow_body = {"content-type": ARROW_STREAM, **WANTS_ARROW}
    assert table_of(client.post(url, content=as_arrow(leads), headers=arrow_body)).equals(table)


def test_invalid_leads_have_a_null_result_and_their_errors(client, real_leads):
    leads = _fixed(real_leads[:6])
    leads[1]["lead"]["lead_type"] = "no such type"
    leads[4]["lead"]["favourite_colour"] = "green"
    from_json = client.post("/v1/score/batch", json={"leads": leads}).json()
    assert from_json["invalid"] == 2
    table = table_of(client.post("/v1/score/batch", json={"leads": leads}, headers=WANTS_ARROW))
    assert as_json_answer(table) == from_json
    results = table.column("result")
    assert results.null_count == 2 and table.column("error").null_count == 4
    assert not results[1].is_valid and table.column("error")[1].is_valid


def test_a_batch_with_no_valid_lead_still_has_the_columns_of_a_scored_one(client, real_leads):
    leads = _fixed(real_leads[:3])
    for lead in leads:
        lead["lead"]["lead_type"] = "no such type"
    scored = table_of(
        client.post("/v1/score/batch", json={"leads": _fixed(real_leads[:3])}, headers=WANTS_ARROW)
    )
    none = table_of(client.post("/v1/score/batch", json={"leads": leads}, headers=WANTS_ARROW))
    assert none.schema.metadata[b"scored"] == b"0"
    assert none.column("result").null_count == 3
    assert none.schema.remove_metadata() == scored.schema.remove_metadata()


def test_the_flattened_answer_is_a_frame_of_one_row_per_lead(client, real_leads):
    leads = _fixed(real_leads)
    table = table_of(client.post("/v1/score/batch", json={"leads": leads}, headers=WANTS_ARROW))
    frame = table.flatten().flatten().to_pandas()
    assert len(frame) == len(leads)
    probability = frame["result.mql_to_sql.probability"]
    open_or_hypothetical = frame["result.mql_to_sql.status"].isin(["open", "hypothetical"])
    assert probability[open_or_hypothetical].between(0, 1).all()
    assert probability[~open_or_hypothetical].isna().all()


def test_errors_of_the_whole_request_stay_json(client):
    response = client.post("/v1/score/batch", json={"leads": []}, headers=WANTS_ARROW)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("accept", "arrow"),
    [
        (None, False),
        ("application/json", False),
        ("*/*", False),
        (ARROW_STREAM, True),
        (f"{ARROW_STREAM.upper()}; charset=binary", True),
        (f"application/json;q=0.5, {ARROW_STREAM}", True),
        (f"application/json, {ARROW_STREAM};q=0.5", False),
        (f"{ARROW_STREAM};q=0", False),
        (f"{ARROW_STREAM};q=bad", False),
    ],
)
def test_the_accept_header_picks_the_answer_format(accept, arrow):
    assert accepts_arrow(accept) is arrow
