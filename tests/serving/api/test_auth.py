"""Optional API-key authentication: on when LEADSCORE_API_KEY is set; the key is never logged."""

from __future__ import annotations

import base64
import logging

import pytest
from pydantic import SecretStr

KEY = "s3cret-key-for-tests-0123456789"


@pytest.fixture
def locked(registry, make_client, tmp_path):
    """The API with a key; its data folder (hence no weights report yet) is the test's own."""
    return make_client(
        registry.model_copy(update={"api_key": SecretStr(KEY), "data_dir": tmp_path})
    )


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


# --- the /weights page: the key by HTTP Basic, as a browser sends it -----------------------
def test_page_without_a_key_gets_401_asking_the_browser_for_it(locked):
    response = locked.get("/weights")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Basic realm="leadscore"')
    assert "password" in response.json()["detail"]


def test_page_takes_the_key_as_basic_password_with_any_user_name_or_as_header(locked):
    for auth in (("marketing", KEY), ("", KEY)):
        assert locked.get("/weights", auth=auth).status_code == 404  # in: no report yet
    assert locked.get("/weights", headers={"X-API-Key": KEY}).status_code == 404
    for auth in (("marketing", "wrong"), ("marketing", KEY[:-1]), (KEY, "")):
        response = locked.get("/weights", auth=auth)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic")


def test_json_weights_still_need_the_header(locked):
    assert locked.get("/v1/weights", auth=("marketing", KEY)).status_code == 401
    assert locked.get("/v1/weights", headers={"X-API-Key": KEY}).status_code == 404


def test_basic_credentials_are_never_logged(locked, caplog):
    caplog.set_level(logging.DEBUG)
    locked.get("/weights", auth=("marketing", KEY[:-1]))
    locked.get("/weights", auth=("marketing", KEY))
    assert any("rejected GET /weights: wrong API key" in r.getMessage() for r in caplog.records)
    encoded = base64.b64encode(f"marketing:{KEY[:-1]}".encode()).decode()
    for record in caplog.records:
        for secret in (KEY, KEY[:-1], encoded):
            assert secret not in record.getMessage()


def test_openapi_declares_basic_auth_for_the_page_only(locked):
    spec = locked.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    basic = next(name for name, s in schemes.items() if s.get("scheme") == "basic")
    page = spec["paths"]["/weights"]["get"]
    assert {basic: []} in page["security"] and "401" in page["responses"]
    assert all(basic not in s for s in spec["paths"]["/v1/weights"]["get"]["security"])
