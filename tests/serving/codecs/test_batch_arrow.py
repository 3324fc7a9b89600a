"""Batches sent as an Arrow IPC stream score exactly as the same batch sent as JSON, valid or
not; bytes that are not a stream are a 400, and no stream makes the API fail."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.decode.arrow_reader import ARROW_STREAM, read_arrow_batch
from serving.decode.checks import ColumnBatch

ARROW = {"content-type": ARROW_STREAM}


def stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def as_arrow(leads: list[dict]) -> bytes:
    """What a client holding the JSON leads sends: ``Table.from_pylist`` of them."""
    return stream(pa.Table.from_pylist(leads))


def read(body: bytes):
    return read_arrow_batch(body, max_leads=1000, max_touches=2000, now=datetime.now(UTC))


def _fixed(leads: list[dict]) -> list[dict]:
    """The leads with an as_of each (a left-out one means now, which moves between requests)."""
    leads = copy.deepcopy(leads)
    for lead in leads:
        lead["as_of"] = lead["as_of"] or "2026-01-01T00:00:00Z"
    return leads


def test_real_leads_score_as_from_json_and_are_read_column_wise(client, real_leads):
    for ids in ("numbers", "text"):
        leads = _fixed(real_leads)
        if ids == "text":
            for lead in leads:
                lead["lead"]["lead_id"] = f"CRM-{lead['lead']['lead_id']}"
        body = as_arrow(leads)
        assert isinstance(read(body), ColumnBatch), ids  # not the lead-by-lead path
        from_arrow = client.post("/v1/score/batch?reasons=true", content=body, headers=ARROW)
        from_json = client.post("/v1/score/batch?reasons=true", json={"leads": leads})
        assert from_arrow.status_code == 200
        assert from_arrow.json() == from_json.json()
        assert from_arrow.json()["scored"] == len(leads)


def test_arrow_types_a_data_team_has_read_as_the_same_values(client, real_leads):
    # times as Arrow timestamps (no zone = UTC, or zoned), text dictionary-encoded, narrower
    # integers, and columns left out: same scores as the JSON leads, still read column-wise
    leads = _fixed(real_leads)
    table = pa.Table.from_pylist(leads)
    touch = table.schema.field("touches").type.value_type
    stamps = pa.timestamp("us")
    changed = pa.list_(
        pa.struct(
            [("occurred_at", stamps), *((f.name, f.type) for f in touch if f.name != "occurred_at")]
        )
    )
    typed = pa.table(
        {
            "lead": table.column("lead"),
            "touches": table.column("touches").cast(changed),
            "as_of": table.column("as_of").cast(pa.timestamp("s", tz="UTC")),
            "stage_changes": table.column("stage_changes"),
        }
    )
    lead = typed.column("lead").combine_chunks()
    fields = {f.name: lead.field(f.name) for f in lead.type}
    fields["source"] = fields["source"].dictionary_encode()
    fields["company_size"] = fields["company_size"].cast(pa.int32())
    typed = typed.set_column(
        0, "lead", pa.StructArray.from_arrays(list(fields.values()), names=list(fields))
    )
    body = stream(typed)
    assert isinstance(read(body), ColumnBatch)
    from_arrow = client.post("/v1/score/batch", content=body, headers=ARROW)
    assert from_arrow.json() == client.post("/v1/score/batch", json={"leads": leads}).json()

    no_stages = [{k: v for k, v in lead.items() if k != "stage_changes"} for lead in leads]
    body = as_arrow(no_stages)  # a list left out is empty, as in the schema
    assert isinstance(read(body), ColumnBatch)
    assert (
        client.post("/v1/score/batch", content=body, headers=ARROW).json()
        == client.post("/v1/score/batch", json={"leads": no_stages}).json()
    )


def test_invalid_leads_are_reported_in_their_slots_as_for_json(client, real_leads):
    leads = _fixed(real_leads[:6])
    leads[1]["lead"]["lead_type"] = "no such type"
    leads[3]["touches"][0]["channel"] = "fax" if leads[3]["touches"] else None
    leads[4]["lead"]["favourite_colour"] = "green"  # a field the API does not know
    from_arrow = client.post("/v1/score/batch", content=as_arrow(leads), headers=ARROW)
    from_json = client.post("/v1/score/batch", json={"leads": leads})
    assert from_arrow.status_code == 200
    assert from_arrow.json()["invalid"] >= 2
    assert from_arrow.json() == from_json.json()


def test_a_column_the_api_does_not_know_goes_to_the_schema(client, real_leads):
    leads = [{**lead, "priority": "high"} for lead in _fixed(real_leads[:3])]
    body = as_arrow(leads)
    assert not isinstance(read(body), ColumnBatch)
    answer = client.post("/v1/score/batch", content=body, headers=ARROW).json()
    assert answer["invalid"] == 3
    assert answer == client.post("/v1/score/batch", json={"leads": leads}).json()


def test_too_many_leads_and_unreadable_bytes(client, registry, make_client, real_leads):
    small = make_client(registry.model_copy(update={"max_batch_leads": 2}))
    response = small.post("/v1/score/batch", content=as_arrow(real_leads[:3]), headers=ARROW)
    assert response.status_code == 422
    assert "at most 2 leads" in response.json()["detail"][0]["msg"]
    body = as_arrow(real_leads[:3])
    for broken in (b"", b"not arrow at all", body[: len(body) // 2]):
        response = client.post("/v1/score/batch", content=broken, headers=ARROW)
        assert response.status_code == 400, broken[:20]
        assert ARROW_STREAM in response.json()["detail"]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_damaged_streams_never_fail_the_api(client, lead_request, data):
    body = bytearray(as_arrow([lead_request, lead_request]))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(body) - 1))
        body[at] = data.draw(st.integers(0, 255))
    response = client.post("/v1/score/batch", content=bytes(body), headers=ARROW)
    assert response.status_code in (200, 400, 422), response.text[:300]


@pytest.fixture
def client(client):
    """The shared client, with server errors answered as 500s rather than raised, so the
    damaged-stream test sees what a caller would."""
    client.raise_server_exceptions = False
    return client


def test_integers_sent_as_floats_are_refused_as_in_json(client, real_leads):
    leads = _fixed(real_leads[:3])
    for lead in leads:
        lead["lead"]["company_size"] = 40
    table = pa.Table.from_pylist(leads)
    lead = table.column("lead").combine_chunks()
    fields = {f.name: lead.field(f.name) for f in lead.type}
    fields["company_size"] = fields["company_size"].cast(pa.float64())  # what pandas makes
    table = table.set_column(
        0, "lead", pa.StructArray.from_arrays(list(fields.values()), names=list(fields))
    )
    answer = client.post("/v1/score/batch", content=stream(table), headers=ARROW).json()
    assert answer["invalid"] == 3
    errors = answer["results"][0]["error"]["errors"]
    assert errors[0]["loc"] == ["body", "leads", 0, "lead", "company_size"]
