"""/v1/score/batch reads its body itself: a batch of valid leads is read column-wise, anything
else goes down the per-lead path. Both give the same answers, each invalid lead is reported in
its slot, and a broken body gets the documented 400/422."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

import serving.decode.body


def _no_nan(text: str) -> dict:
    """Parses strictly: a NaN or Infinity in a response is an error, never a value."""

    def refuse(constant: str):
        raise AssertionError(f"{constant} in a response")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def per_lead_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts batches that went down the per-lead path."""
    calls: list[int] = []
    per_lead = serving.decode.body._batch

    def counted(*args):
        calls.append(1)
        return per_lead(*args)

    monkeypatch.setattr("serving.decode.body._batch", counted)
    return calls


def _variants(lead_request: dict, n: int) -> list[dict]:
    leads = []
    for i in range(n):
        lead = copy.deepcopy(lead_request)
        lead["lead"]["lead_id"] = f"L-{i}"
        lead["touches"] = lead["touches"][: 3 * i + 1]
        leads.append(lead)
    return leads


def _broken(lead_request: dict) -> list[tuple[dict, list]]:
    """Invalid leads, each with the location of its (first) error inside the lead."""
    created = lead_request["lead"]["created_at"]
    cases = [
        (("touches", 0, "channel"), "fax", ["touches", 0, "channel"]),
        (("touches", 1, "occurred_at"), "2099-01-01T00:00:00Z", ["touches", 1, "occurred_at"]),
        (("lead", "created_at"), "0001-01-01T00:00:00+05:00", ["lead", "created_at"]),
        (("lead", "favourite_colour"), "blue", ["lead", "favourite_colour"]),
        (("touches", 0, "occurred_at"), "2000-01-01T00:00:00Z", []),  # before created_at
        (("stage_changes",), [{"stage": "mql", "changed_at": created}] * 2, []),
    ]
    broken = []
    for path, value, loc in cases:
        lead = copy.deepcopy(lead_request)
        target = lead
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        broken.append((lead, loc))
    return broken


def test_valid_batch_is_read_column_wise_and_matches_single_scoring(
    client, lead_request, per_lead_calls
):
    leads = _variants(lead_request, 5)
    response = client.post("/v1/score/batch", json={"leads": leads}, params={"reasons": "true"})
    assert response.status_code == 200
    assert per_lead_calls == []
    body = _no_nan(response.text)
    singles = [client.post("/v1/score", json=lead).json() for lead in leads]
    assert (body["scored"], body["invalid"]) == (5, 0)
    assert [item["result"] for item in body["results"]] == singles


def test_column_wise_and_per_lead_path_give_the_same_answers(
    client, lead_request, per_lead_calls, monkeypatch
):
    leads = _variants(lead_request, 4)
    batches = [
        {"leads": leads},
        {"leads": [leads[0], *(lead for lead, _ in _broken(lead_request)), leads[1]]},
        {"leads": [leads[0], 1]},
        {"leads": []},
        {"leads": leads, "extra": 1},
    ]
    columns = [client.post("/v1/score/batch", json=batch) for batch in batches]
    assert len(per_lead_calls) == len(batches) - 1  # every batch but the first has a problem
    monkeypatch.setattr("serving.api.routes.read_valid_batch", lambda *args, **kwargs: None)
    per_lead = [client.post("/v1/score/batch", json=batch) for batch in batches]
    for fast, slow in zip(columns, per_lead, strict=True):
        assert (fast.status_code, fast.json()) == (slow.status_code, slow.json())


def test_each_invalid_lead_is_reported_in_its_slot(client, lead_request):
    good = _variants(lead_request, 2)
    broken = _broken(lead_request)
    leads = [good[0], *(lead for lead, _ in broken), good[1]]
    response = client.post("/v1/score/batch", json={"leads": leads})
    assert response.status_code == 200
    body = _no_nan(response.text)
    assert (body["scored"], body["invalid"]) == (2, len(broken))
    assert [item["index"] for item in body["results"]] == list(range(len(leads)))
    for slot, (_, loc) in enumerate(broken, start=1):
        item = body["results"][slot]
        assert item["result"] is None
        assert item["error"]["index"] == slot
        assert item["error"]["lead_id"] == lead_request["lead"]["lead_id"]
        assert item["error"]["errors"][0]["loc"] == ["body", "leads", slot, *loc]
    for item, lead in zip((body["results"][0], body["results"][-1]), good, strict=True):
        assert item["error"] is None
        single = client.post("/v1/score", json=lead, params={"reasons": "false"})
        assert item["result"] == single.json()


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"", "application/json", 422),
        (b"lead=1", "application/json", 422),
        (b"null", "application/json", 422),
        (b'{"leads": [1]}', "application/json", 422),
        (b'{"leads": "\xff"}', "application/json", 400),  # not UTF-8 text
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400),  # too deep to parse
    ],
)
def test_broken_body_gets_400_or_422_never_500(client, content, content_type, status):
    response = client.post(
        "/v1/score/batch", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == status
    assert response.json()


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize(
    ("path", "accepted"),
    [
        ("/v1/score", "application/json"),
        ("/v1/score/batch", "application/json or application/vnd.apache.arrow.stream"),
    ],
)
def test_body_sent_as_another_media_type_gets_415_naming_the_accepted_ones(
    client, lead_request, content_type, path, accepted
):
    """A JSON body sent with the wrong (or no) Content-Type: 415 naming what is taken, not the
    422 "Input should be a valid dictionary" reading it anyway would give."""
    headers = {} if content_type is None else {"content-type": content_type}
    body = lead_request if path == "/v1/score" else {"leads": [lead_request]}
    response = client.post(path, content=json.dumps(body).encode(), headers=headers)
    assert response.status_code == 415
    answer = response.json()
    assert answer["error"] == "unsupported_media_type"
    sent = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
    assert answer["detail"] == f"{sent} is not accepted here: send the body as {accepted}"


def test_openapi_documents_the_415(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/score", "/v1/score/batch"):
        assert "415" in paths[path]["post"]["responses"]


def test_batch_is_read_as_fastapi_reads_json(client, lead_request):
    """Content types with a charset or a +json suffix and UTF-16 text are JSON too."""
    content = json.dumps({"leads": [lead_request]})
    for data, content_type in [
        (content.encode(), "application/json; charset=utf-8"),
        (content.encode(), "application/vnd.leads+json"),
        (content.encode("utf-16"), "application/json"),
    ]:
        response = client.post(
            "/v1/score/batch", content=data, headers={"content-type": content_type}
        )
        assert response.status_code == 200
        assert response.json()["scored"] == 1


def test_scorer_gets_plain_utc_history_from_both_paths(client, lead_request, monkeypatch):
    """What ``score_requests`` is promised: plain strings, aware UTC datetimes and touches
    that always carry page_type and duration_s (None when left out)."""
    seen = []

    def capture(models, requests, *, now, reasons, top):
        seen.extend(requests)
        raise RuntimeError("captured")

    monkeypatch.setattr("serving.api.routes.score_requests", capture)
    # the column-wise reader (tests/serving/codecs/test_batch_columns.py) would take the valid batch
    monkeypatch.setattr("serving.api.routes.read_valid_batch", lambda *args, **kwargs: None)
    lead = copy.deepcopy(lead_request)
    first = lead["touches"][0]
    at = datetime.fromisoformat(first["occurred_at"]).replace(tzinfo=UTC)
    lead["touches"][0] = {
        "occurred_at": (at + timedelta(hours=2)).replace(tzinfo=None).isoformat() + "+02:00",
        "channel": first["channel"],
        "action": first["action"],
    }
    for leads in ([lead], [lead, {"lead": None}]):  # valid; with a broken lead
        with pytest.raises(RuntimeError, match="captured"):
            client.post("/v1/score/batch", json={"leads": leads})
    assert len(seen) == 2
    for request in seen:
        assert request.touches[0]["occurred_at"] == at
        assert request.touches[0]["page_type"] is None
        assert request.touches[0]["duration_s"] is None
        stamps = [request.lead.created_at, request.as_of]
        stamps += [t["occurred_at"] for t in request.touches]
        stamps += [c["changed_at"] for c in request.stage_changes]
        assert all(stamp.tzinfo is UTC for stamp in stamps)
        for touch in request.touches:
            assert set(touch) == {"occurred_at", "channel", "action", "page_type", "duration_s"}
            assert type(touch["channel"]) is str and type(touch["action"]) is str
        assert all(type(c["stage"]) is str for c in request.stage_changes)
        assert type(request.lead.model_dump()["lead_type"]) is str


def test_openapi_documents_the_batch_body(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/score/batch"]["post"]["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert schema["title"] == "BatchRequest"
    assert schema["required"] == ["leads"]
    assert schema["examples"][0]["leads"][0]["lead"]["lead_id"] == "L-1042"
