"""The weights router mounted on a small app: JSON, page, 404 without a comparison, the OpenAPI
documentation, and the page in a real headless Chromium served by a real uvicorn."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from core.settings import Settings
from serving.api.weights_page import (
    NOT_AVAILABLE,
    CapacityRowOut,
    RuleWeightOut,
    UncoveredSignalOut,
    WeightsOut,
    weights_router,
)
from training.weights.compare import (
    CapacityRow,
    RuleWeight,
    UncoveredSignal,
    WeightsComparison,
    compare_weights,
)

PAGE_KEY = "page-key-for-tests-0123456789"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def comparison(simulation, training_sets, hand_set_rules) -> WeightsComparison:
    return compare_weights(
        simulation.history,
        hand_set_rules,
        bootstrap=10,
        training_set=training_sets["mql_to_sql"],
        model_params={"n_estimators": 200},
    )


def _app(get_comparison) -> FastAPI:
    app = FastAPI()
    app.include_router(weights_router(get_comparison))
    return app


def test_weights_json_is_the_comparison(comparison):
    client = TestClient(_app(lambda: comparison.to_dict()))
    response = client.get("/v1/weights")
    assert response.status_code == 200
    assert response.json() == WeightsOut.model_validate(comparison.to_dict()).model_dump(
        mode="json"
    )
    assert [r["name"] for r in response.json()["rules"]] == [r.name for r in comparison.rules]


def test_a_comparison_object_is_served_too(comparison):
    client = TestClient(_app(lambda: comparison))
    assert client.get("/v1/weights").json()["transition"] == "mql_to_sql"


def test_no_comparison_is_a_404_naming_the_command():
    client = TestClient(_app(lambda: None))
    response = client.get("/v1/weights")
    assert response.status_code == 404
    assert response.json() == {"error": "weights_not_available", "detail": NOT_AVAILABLE}
    page = client.get("/weights")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "leadscore weights" in page.text


def test_page_shows_every_rule_and_is_rendered_once(comparison):
    calls = []

    def get():
        calls.append(1)
        return comparison.to_dict()

    client = TestClient(_app(get))
    first = client.get("/weights")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/html")
    for rule in comparison.rules:
        assert f'data-rule="{rule.name}"' in first.text
    assert client.get("/weights").text == first.text
    assert len(calls) == 2


def test_openapi_documents_both_routes_and_the_404(comparison):
    spec = TestClient(_app(lambda: None)).get("/openapi.json").json()
    json_route = spec["paths"]["/v1/weights"]["get"]["responses"]
    assert json_route["200"]["content"]["application/json"]["schema"]["$ref"].endswith("WeightsOut")
    assert "404" in json_route
    page_route = spec["paths"]["/weights"]["get"]["responses"]
    assert "text/html" in page_route["200"]["content"] and "404" in page_route


@pytest.mark.parametrize(
    ("schema", "record"),
    [
        (RuleWeightOut, RuleWeight),
        (UncoveredSignalOut, UncoveredSignal),
        (CapacityRowOut, CapacityRow),
    ],
)
def test_response_models_match_the_comparison_records(schema, record):
    assert set(schema.model_fields) == {f.name for f in dataclasses.fields(record)}


def test_top_level_response_model_matches_to_dict(comparison):
    assert set(WeightsOut.model_fields) == set(comparison.to_dict())


# --- a real browser on a real server -----------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(app: FastAPI) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def served(comparison) -> Iterator[str]:
    yield from _serve(_app(lambda: comparison.to_dict()))


@pytest.fixture
def served_locked(comparison) -> Iterator[tuple[str, list[tuple[int, bool]]]]:
    """The page behind the service's API key (LEADSCORE_API_KEY set), and what the server
    answered to each request for it: (status, whether the request carried credentials)."""
    app = FastAPI()
    app.state.settings = Settings(api_key=SecretStr(PAGE_KEY))
    app.include_router(weights_router(lambda: comparison.to_dict(), locked=True))
    answered: list[tuple[int, bool]] = []

    @app.middleware("http")
    async def record(request, call_next):
        response = await call_next(request)
        if request.url.path == "/weights":
            answered.append((response.status_code, "authorization" in request.headers))
        return response

    for url in _serve(app):
        yield url, answered


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        message = "Chromium is missing: apt-get install -y chromium (Debian's package)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.mark.slow
def test_page_in_a_headless_browser_shows_tables_and_plots(served, comparison, tmp_path):
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda r: requests.append(r.url))
            response = page.goto(f"{served}/weights", wait_until="load")
            assert response is not None and response.status == 200
            names = page.locator("#rules tbody tr").evaluate_all(
                "rows => rows.map(row => row.dataset.rule)"
            )
            assert names == [rule.name for rule in comparison.rules]
            # hand-set and learned points, plain LightGBM and LightGBM on the rules
            assert page.locator("#capacity tbody tr").count() == 4
            assert page.locator("#capacity").get_by_text("LightGBM on rules").is_visible()
            assert page.get_by_text("newsletter_signup", exact=True).first.is_visible()
            images = page.locator("img").evaluate_all(
                "imgs => imgs.map(img => [img.complete, img.naturalWidth])"
            )
            assert len(images) >= 2
            assert all(complete and width > 0 for complete, width in images)
            page.screenshot(path=str(tmp_path / "weights.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert all(url.startswith((served, "data:")) for url in requests), requests


SCRIPT_NAME = "<script>window.injected = 1</script>"
IMG_DESCRIPTION = '"\'><img src=x onerror="window.injected = 2">'


@pytest.fixture
def served_hostile(comparison) -> Iterator[str]:
    """The page of a comparison whose first rule has a script for a name and markup in its
    description (rule names and descriptions are user-written text)."""
    data = comparison.to_dict()
    data["rules"][0] = {**data["rules"][0], "name": SCRIPT_NAME, "description": IMG_DESCRIPTION}
    yield from _serve(_app(lambda: data))


@pytest.mark.slow
def test_a_script_in_a_rule_name_is_shown_as_text_in_the_browser(served_hostile, comparison):
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            response = page.goto(f"{served_hostile}/weights", wait_until="load")
            assert response is not None and response.status == 200
            assert page.evaluate("() => window.injected === undefined")  # nothing ran
            assert page.locator("script").count() == 0 and page.locator("td img").count() == 0
            first = page.locator("#rules tbody tr").first
            assert first.get_attribute("data-rule") == SCRIPT_NAME
            assert first.locator("td.rule b").inner_text() == SCRIPT_NAME  # shown as written
            assert IMG_DESCRIPTION in first.locator("td.rule small").inner_text()
            names = page.locator("#rules tbody tr").evaluate_all(
                "rows => rows.map(row => row.dataset.rule)"
            )
            assert names[1:] == [rule.name for rule in comparison.rules[1:]]
        finally:
            browser.close()
    assert all(url.startswith((served_hostile, "data:")) for url in requests), requests


@pytest.mark.slow
def test_page_behind_the_api_key_opens_with_the_browsers_basic_auth(served_locked, comparison):
    """With LEADSCORE_API_KEY set, a browser given the key as the password of HTTP Basic (its
    login prompt) sees the page; without it, the page answers 401. The key is never in a URL."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    url, answered = served_locked
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            # no credentials: the server's 401 asks for Basic, the browser has nothing to give
            # (a person sees the login prompt) and gives the page up
            anonymous = browser.new_context()
            with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):
                anonymous.new_page().goto(f"{url}/weights")
            anonymous.close()
            assert answered == [(401, False)]
            answered.clear()
            # a wrong key: sent by Basic when challenged, refused again with 401
            wrong = browser.new_context(
                http_credentials={"username": "marketing", "password": "wrong"}
            )
            response = wrong.new_page().goto(f"{url}/weights")
            assert response is not None and response.status == 401
            assert response.header_value("www-authenticate").startswith('Basic realm="leadscore"')
            wrong.close()
            assert answered == [(401, False), (401, True)]
            answered.clear()

            context = browser.new_context(
                http_credentials={"username": "marketing", "password": PAGE_KEY}
            )
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            response = page.goto(f"{url}/weights", wait_until="load")
            assert response is not None and response.status == 200
            # asked first without credentials, challenged, then sent the key by Basic
            assert answered == [(401, False), (200, True)]
            names = page.locator("#rules tbody tr").evaluate_all(
                "rows => rows.map(row => row.dataset.rule)"
            )
            assert names == [rule.name for rule in comparison.rules]
            context.close()
        finally:
            browser.close()
    assert requests and all(PAGE_KEY not in url for url in requests)


def test_service_serves_the_latest_weights_report_from_the_data_dir(
    comparison, tmp_path, monkeypatch
):
    """The real app: 404 before `leadscore weights` ran, the comparison once weights.json exists."""
    from core.settings import Settings
    from serving.api.app import create_app

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = Settings(data_dir=tmp_path, mlflow_tracking_uri=f"sqlite:///{tmp_path / 'none.db'}")
    app = create_app(settings)  # no lifespan: the weights routes need no models
    client = TestClient(app)
    assert client.get("/v1/weights").status_code == 404
    folder = tmp_path / "weights"
    folder.mkdir()
    data = comparison.to_dict()
    (folder / "weights.json").write_text(json.dumps(data, allow_nan=False))
    answer = client.get("/v1/weights")
    assert answer.status_code == 200
    assert [r["name"] for r in answer.json()["rules"]] == [r["name"] for r in data["rules"]]
    assert "<table" in client.get("/weights").text
