"""Bad requests get a 422 naming the field; configured limits are enforced the same way."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

FUTURE = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=2)).isoformat()


def _set(body: dict, path: tuple, value) -> dict:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


def _loc(response) -> list:
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["loc"]


@pytest.mark.parametrize(
    ("path", "value", "loc"),
    [
        (("touches", 0, "channel"), "fax", ["body", "touches", 0, "channel"]),
        (("touches", 0, "action"), "sent_a_fax", ["body", "touches", 0, "action"]),
        (("touches", 0, "page_type"), "landing", ["body", "touches", 0, "page_type"]),
        (("stage_changes", 0, "stage"), "opportunity", ["body", "stage_changes", 0, "stage"]),
        (("lead", "industry"), "mining", ["body", "lead", "industry"]),
        (("lead", "company_size"), "many", ["body", "lead", "company_size"]),
        (("lead", "company_size"), -5, ["body", "lead", "company_size"]),
        (("touches", 0, "duration_s"), "long", ["body", "touches", 0, "duration_s"]),
        (("touches", 0, "occurred_at"), "yesterday-ish", ["body", "touches", 0, "occurred_at"]),
        (("touches", 0, "occurred_at"), FUTURE, ["body", "touches", 0, "occurred_at"]),
        (("lead", "created_at"), FUTURE, ["body", "lead", "created_at"]),
        (("lead", "created_at"), "1900-01-01T00:00:00Z", ["body", "lead", "created_at"]),
        (("as_of",), FUTURE, ["body", "as_of"]),
        # in UTC before year 1 or after 9999: out of range, not a 500
        (("lead", "created_at"), "0001-01-01T00:00:00+05:00", ["body", "lead", "created_at"]),
        (("as_of",), "9999-12-31T23:00:00-05:00", ["body", "as_of"]),
        (("lead", "lead_id"), [1, 2], ["body", "lead", "lead_id"]),
        (("touches",), "not a list", ["body", "touches"]),
        (("lead", "favourite_colour"), "blue", ["body", "lead", "favourite_colour"]),
    ],
)
def test_bad_field_gets_422_naming_it(client, lead_request, path, value, loc):
    found = _loc(client.post("/v1/score", json=_set(lead_request, path, value)))
    assert found[: len(loc)] == loc  # a union field adds the member tried (lead_id: int, str)


def test_unknown_channel_message_lists_the_allowed_values(client, lead_request):
    response = client.post("/v1/score", json=_set(lead_request, ("touches", 0, "channel"), "fax"))
    message = response.json()["detail"][0]["msg"]
    assert "'email'" in message and "'sdr_call'" in message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda b: _set(b, ("touches", 0, "occurred_at"), "2000-01-01T00:00:00Z"),
            "touches[0].occurred_at is before the lead's created_at",
        ),
        (lambda b: _set(b, ("as_of",), "2000-01-01T00:00:00Z"), "as_of is before"),
        (
            lambda b: _set(
                b,
                ("stage_changes",),
                [
                    {"stage": "sql", "changed_at": b["lead"]["created_at"]},
                    {"stage": "mql", "changed_at": b["as_of"]},
                ],
            ),
            "'mql' comes after 'sql'",
        ),
        (
            lambda b: _set(
                b,
                ("stage_changes",),
                [
                    {"stage": "mql", "changed_at": b["lead"]["created_at"]},
                    {"stage": "mql", "changed_at": b["as_of"]},
                ],
            ),
            "entered twice",
        ),
        (
            lambda b: _set(
                b,
                ("stage_changes",),
                [
                    {"stage": "won", "changed_at": b["lead"]["created_at"]},
                    {"stage": "lost", "changed_at": b["as_of"]},
                ],
            ),
            "both won and lost",
        ),
    ],
)
def test_inconsistent_history_gets_422(client, lead_request, change, message):
    response = client.post("/v1/score", json=change(lead_request))
    assert _loc(response) == ["body"]
    assert message in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("body", [None, {}, [], {"leads": []}])
def test_empty_body_gets_422(client, body):
    response = client.post("/v1/score", json=body)
    assert response.status_code == 422
    assert client.post("/v1/score/batch", json=body).status_code == 422


def test_body_that_is_not_json_gets_422(client):
    response = client.post(
        "/v1/score", content=b"lead=1", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_lone_surrogate_in_text_gets_422_not_500(client, lead_request):
    raw = (
        '{"lead": {"lead_id": "\\ud800", "created_at": "2024-01-01T00:00:00Z", '
        '"lead_type": "hand_raiser", "country": "\\udfff"}}'
    )
    response = client.post(
        "/v1/score", content=raw.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_too_many_touches_gets_422(registry, make_client, lead_request):
    client = make_client(registry.model_copy(update={"max_touches_per_lead": 3}))
    response = client.post("/v1/score", json=lead_request)
    assert _loc(response) == ["body", "touches"]
    assert "LEADSCORE_MAX_TOUCHES_PER_LEAD" in response.json()["detail"][0]["msg"]
    batch = client.post("/v1/score/batch", json={"leads": [lead_request]}).json()
    assert batch["results"][0]["error"]["errors"][0]["loc"] == ["body", "leads", 0, "touches"]


def test_oversized_batch_gets_422(registry, make_client, lead_request):
    client = make_client(registry.model_copy(update={"max_batch_leads": 2}))
    response = client.post("/v1/score/batch", json={"leads": [lead_request] * 3})
    assert _loc(response) == ["body", "leads"]
    assert "at most 2 leads" in response.json()["detail"][0]["msg"]


def test_a_body_over_the_size_limit_gets_413_before_it_is_read(registry, make_client, lead_request):
    client = make_client(registry.model_copy(update={"max_request_bytes": 4096}))
    batch = json.dumps({"leads": [lead_request] * 20}).encode()
    for path, body in (("/v1/score/batch", batch), ("/v1/score", b" " * 5000 + b"{}")):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert response.json()["error"] == "content_too_large"
        assert f"{len(body):,} bytes" in response.json()["detail"]
        assert "LEADSCORE_MAX_REQUEST_BYTES" in response.json()["detail"]
    # a body sent without its length (chunked) is stopped where it passes the limit
    for path, body in (("/v1/score/batch", batch), ("/v1/score", b" " * 5000 + b"{}")):
        response = client.post(
            path,
            content=(body[i : i + 1000] for i in range(0, len(body), 1000)),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 413, path
        assert response.json()["error"] == "content_too_large"
        assert "LEADSCORE_MAX_REQUEST_BYTES" in response.json()["detail"]
    # under the limit, nothing changes
    small = client.post("/v1/score/batch", json={"leads": [lead_request]})
    assert small.status_code == 200


def test_unexpected_error_is_a_json_500_without_internals(
    registry, make_client, lead_request, monkeypatch
):
    client = make_client(registry, raise_server_exceptions=False)

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals /etc/passwd")

    for scorer in ("score_requests", "score_visible"):  # either path a batch may take
        monkeypatch.setattr(f"serving.api.routes.{scorer}", broken)
    response = client.post("/v1/score/batch", json={"leads": [lead_request]})
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal",
        "detail": "internal error; the server log has the details",
    }
