"""Optional API-key authentication: on when LEADSCORE_API_KEY is set; the key is never logged."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

KEY = "s3cret-key-for-tests-0123456789"


@pytest.fixture
def locked(registry, make_client):
    return make_client(registry.model_copy(update={"api_key": SecretStr(KEY)}))


def test_without_a_configured_key_no_header_is_needed(client, lead_request):
    assert client.post("/v1/score", json=lead_request).status_code == 200
    assert "X-API-Key" not in client.get("/openapi.json").text


def test_missing_or_wrong_key_gets_401(locked, lead_request):
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": KEY + "x"}):
        response = locked.post("/v1/score", json=lead_request, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "http"
        assert "X-API-Key" in response.json()["detail"]
    assert locked.get("/v1/models").status_code == 401
    assert locked.post("/v1/models/reload").status_code == 401


def test_right_key_is_let_in(locked, lead_request):
    headers = {"X-API-Key": KEY}
    assert locked.post("/v1/score", json=lead_request, headers=headers).status_code == 200
    assert locked.get("/v1/models", headers=headers).status_code == 200


def test_health_metrics_and_docs_need_no_key(locked):
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert locked.get(path).status_code == 200


def test_openapi_declares_the_key_and_the_401(locked):
    spec = locked.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    assert "401" in spec["paths"]["/v1/score"]["post"]["responses"]


def test_the_key_is_never_logged(locked, lead_request, caplog):
    caplog.set_level(logging.DEBUG)
    locked.post("/v1/score", json=lead_request, headers={"X-API-Key": KEY})
    locked.post("/v1/score", json=lead_request, headers={"X-API-Key": KEY[:-1]})
    locked.post("/v1/score", json=lead_request)
    assert any("API key" in r.getMessage() for r in caplog.records)  # rejections are logged
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY[:-1] not in record.getMessage()
    assert KEY not in repr(locked.app.state.settings)
