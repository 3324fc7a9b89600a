"""A reload reaches every worker of a real ``leadscore serve --workers 2``: once
``POST /v1/models/reload`` has answered, each worker scores with the new champion and says so in
``/v1/models``; a reload under a steady stream of score requests fails none of them.

One server serves the module (starting two workers is most of the time); each test promotes a
version and reloads, and judges the answers against what served before it."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.serving.conftest import ReloadStore
from tests.serving.servers import start_server, wait_ready

pytestmark = pytest.mark.slow  # a real server with two workers


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen
    base: str
    store: ReloadStore


@pytest.fixture(scope="module")
def two_workers(reload_store: ReloadStore, tmp_path_factory) -> Iterator[Server]:
    process, base = start_server(
        reload_store.settings, tmp_path_factory.mktemp("two-workers"), workers=2
    )
    try:
        wait_ready(process, base)
        yield Server(process, base, reload_store)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _versions(models_answer: dict) -> dict[str, str | None]:
    return {m["transition"]: m["version"] for m in models_answer["models"]}


def _serving(base: str) -> str:
    """The MQL -> SQL version the server serves now."""
    return _versions(httpx.get(f"{base}/v1/models", timeout=60).json())["mql_to_sql"]


def test_after_one_reload_every_worker_serves_the_new_champion(two_workers, lead_request):
    base = two_workers.base
    new = "2" if _serving(base) != "2" else "3"
    two_workers.store.make_champion(new)

    reload = httpx.post(f"{base}/v1/models/reload", timeout=60)
    assert reload.status_code == 200, reload.text
    assert _versions(reload.json()) == {"mql_to_sql": new, "sql_to_won": "1"}

    # each call its own connection: the connections alternate between the two workers
    answers = [httpx.post(f"{base}/v1/score", json=lead_request, timeout=60) for _ in range(24)]
    assert [a.status_code for a in answers] == [200] * 24
    assert {a.json()["mql_to_sql"]["model"]["version"] for a in answers} == {new}
    assert {a.json()["sql_to_won"]["model"]["version"] for a in answers} == {"1"}

    generation = reload.json()["generation"]
    listed = [httpx.get(f"{base}/v1/models", timeout=60).json() for _ in range(6)]
    answering = set()
    for models in listed:
        assert _versions(models) == {"mql_to_sql": new, "sql_to_won": "1"}
        assert models["generation"] == generation
        workers = models["workers"]
        assert len(workers) == 2, workers  # every live worker, each with what it serves
        for worker in workers:
            assert worker["generation"] == generation
            assert worker["versions"] == {"mql_to_sql": new, "sql_to_won": "1"}
        answering |= {w["pid"] for w in workers if w["answering"]}
    assert len(answering) == 2  # both workers answered /v1/models


@dataclass(frozen=True)
class _Call:
    started: float
    status: int | None  # None: no HTTP answer (the connection failed)
    version: str | None
    problem: str = ""


def _stream(base: str, body: dict, calls: list[_Call], stop: threading.Event, limit: int) -> None:
    """Score requests one after another over one keep-alive connection until ``stop`` or
    ``limit`` calls: a steady stream, as a CRM's sync sends."""
    with httpx.Client(base_url=base, timeout=60) as client:
        for _ in range(limit):
            if stop.is_set():
                return
            started = time.monotonic()
            try:
                answer = client.post("/v1/score", json=body)
            except httpx.HTTPError as error:
                calls.append(_Call(started, None, None, repr(error)))
                continue
            version = None
            if answer.status_code == 200:
                version = answer.json()["mql_to_sql"]["model"]["version"]
            calls.append(_Call(started, answer.status_code, version, answer.text[:200]))


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {seconds:.0f} s"
        time.sleep(0.05)


def test_a_reload_under_load_fails_no_request_and_every_later_one_gets_the_new_champion(
    two_workers, lead_request
):
    base = two_workers.base
    old = _serving(base)
    new = "2" if old != "2" else "3"
    two_workers.store.make_champion(new)
    connections = 4  # dealt out in turn: two per worker
    streams: list[list[_Call]] = [[] for _ in range(connections)]
    stop = threading.Event()
    threads = [
        threading.Thread(target=_stream, args=(base, lead_request, calls, stop, 2_000))
        for calls in streams
    ]
    for thread in threads:
        thread.start()
    try:
        _wait_for(lambda: all(len(c) >= 20 for c in streams), 60, "20 answers per connection")
        reload = httpx.post(f"{base}/v1/models/reload", timeout=60)
        answered = time.monotonic()
        assert reload.status_code == 200, reload.text

        def after_reload(calls: list[_Call]) -> int:
            return sum(c.started > answered for c in calls)

        _wait_for(lambda: all(after_reload(c) >= 30 for c in streams), 60, "30 more per connection")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=90)

    calls = [call for calls in streams for call in calls]
    failed = [call for call in calls if call.status != 200]
    assert failed == [], failed[:3]
    later = [call.version for call in calls if call.started > answered]
    assert len(later) >= connections * 30
    assert set(later) == {new}  # every request started after the reload answered
    earlier = {call.version for call in calls if call.started <= answered}
    assert old in earlier  # the stream ran on the old champion before
    assert earlier <= {old, new}
