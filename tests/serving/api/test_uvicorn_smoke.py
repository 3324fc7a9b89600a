"""End to end: ``run_server`` starts real uvicorn in a subprocess on a free loopback port and a
lead is scored over HTTP, with one worker and with two (the supervisor accepts and hands each
connection to the workers in turn); and uvicorn runs on uvloop and httptools."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

import serving.api.app
from core.errors import WorkersFailingError
from core.settings import get_settings
from serving.runtime.workers import serve_workers
from serving.scoring.generation import SharedGeneration
from tests.serving.servers import free_port, server_env, start_server, wait_ready


def test_uvicorn_serves_scores_over_http(registry, lead_request, tmp_path):
    server, base = start_server(registry, tmp_path, workers=1)
    try:
        wait_ready(server, base)
        response = httpx.post(f"{base}/v1/score", json=lead_request, timeout=10)
        assert response.status_code == 200
        assert 0 < response.json()["mql_to_sql"]["probability"] < 1
        assert httpx.post(f"{base}/v1/score", json={}, timeout=10).status_code == 422
        assert "leadscore_requests_total" in httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_run_server_uses_uvloop_and_httptools_and_hands_workers_a_shared_folder(
    registry, monkeypatch: pytest.MonkeyPatch
):
    for variable, value in server_env(registry).items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("LEADSCORE_RUNTIME_DIR", raising=False)
    seen = {}

    def run(app, **options):  # what a worker sees when uvicorn builds its app
        folder = get_settings().runtime_dir
        shared = SharedGeneration(folder)
        seen.update(options, folder=folder, mode=folder.stat().st_mode & 0o777)
        seen.update(generation=shared.read(), counter=shared.counter())
        shared.close()

    monkeypatch.setattr(serving.api.app.uvicorn, "run", run)
    get_settings.cache_clear()
    try:
        serving.api.app.run_server(host="127.0.0.1", port=0)
    finally:
        get_settings.cache_clear()
    assert (seen["loop"], seen["http"]) == ("uvloop", "httptools")
    generation = seen["generation"]
    assert generation.number == seen["counter"] == 1  # the models run_server checked
    assert {t: p.version for t, p in generation.models.items()} == {
        "mql_to_sql": "1",
        "sql_to_won": "1",
    }
    assert seen["mode"] == 0o700  # the bundles are this user's
    assert not seen["folder"].exists()  # removed when the server stops
    assert "LEADSCORE_RUNTIME_DIR" not in os.environ


def _sockets_on(port: int, state: str) -> set[str]:
    """Inodes of the IPv4 sockets on local ``port`` in ``state`` ("0A" listening, "01"
    established), from /proc/net/tcp."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == state:
            inodes.add(fields[9])
    return inodes


def _workers(supervisor: int) -> list[int]:
    """The supervisor's worker processes (its other child is multiprocessing's tracker)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [int(p) for p in children if b"spawn_main" in _cmdline(p)]


def _cmdline(pid: str) -> bytes:
    """Empty for a process that is gone, or a zombie (it has no command line left)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


@pytest.mark.slow
def test_connections_are_handed_to_workers_in_turn_and_workers_are_replaced_and_stop_together(
    registry, lead_request, tmp_path
):
    # uvicorn's shared socket let one worker take every connection a client opened at once,
    # and a socket per worker split them at random; here the supervisor deals them out
    server, base = start_server(registry, tmp_path, workers=2)
    port = int(base.rsplit(":", 1)[1])
    clients = [httpx.Client() for _ in range(8)]
    try:
        wait_ready(server, base)
        workers = _workers(server.pid)
        assert len(workers) == 2
        listening = _sockets_on(port, "0A")
        assert len(listening) == 1 and listening <= _socket_inodes(server.pid)
        assert all(not _socket_inodes(pid) & listening for pid in workers)
        for client in clients:  # 8 keep-alive connections open at once, as a load test has
            answer = client.post(f"{base}/v1/score", json=lead_request, timeout=30)
            assert answer.status_code == 200
        open_connections = _sockets_on(port, "01")
        held = sorted(len(_socket_inodes(pid) & open_connections) for pid in workers)
        assert held == [4, 4]

        dead = workers[0]
        os.kill(dead, signal.SIGKILL)  # a worker dies: the supervisor starts another
        deadline = time.monotonic() + 60
        workers = _workers(server.pid)
        # SIGKILL takes effect asynchronously: until the kernel tears the worker down it still
        # looks alive, so wait for it to be gone as well as for its replacement
        while dead in workers or len(workers) != 2:
            assert time.monotonic() < deadline, "no new worker within 60 s"
            time.sleep(0.2)
            workers = _workers(server.pid)
        for _ in range(20):  # new connections are answered meanwhile (the survivor's first)
            with httpx.Client() as client:
                answer = client.post(f"{base}/v1/score", json=lead_request, timeout=60)
                assert answer.status_code == 200
    finally:
        for client in clients:
            client.close()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert server.returncode == 0
    assert all(
        not Path(f"/proc/{pid}").exists()
        or b"Z" in Path(f"/proc/{pid}/stat").read_bytes().split()[2]
        for pid in workers
    )


@pytest.mark.slow
def test_workers_stop_when_their_supervisor_is_killed(registry, tmp_path):
    # no one would hand them connections any more; they exit rather than linger as orphans
    server, base = start_server(registry, tmp_path, workers=2)
    try:
        wait_ready(server, base)
        workers = _workers(server.pid)
        assert len(workers) == 2
    finally:
        server.kill()
        server.wait(timeout=60)
    deadline = time.monotonic() + 30
    while any(_cmdline(str(pid)) for pid in workers):
        assert time.monotonic() < deadline, "workers still running 30 s after the supervisor"
        time.sleep(0.2)


@pytest.mark.parametrize("taken_by_workers", [False, True])
def test_a_port_in_use_fails_before_any_worker_starts(taken_by_workers):
    # taken by anyone, also by sockets that would share it (SO_REUSEPORT)
    with socket.socket() as taken:
        if taken_by_workers:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            serve_workers(host="127.0.0.1", port=port, workers=2, options={})


def test_workers_that_cannot_start_stop_the_server_instead_of_restarting_for_ever():
    options = {"app": "no_such_module:app", "host": "127.0.0.1", "log_level": "critical"}
    started = time.monotonic()
    with pytest.raises(WorkersFailingError, match="exit as soon as they start"):
        serve_workers(host="127.0.0.1", port=free_port(), workers=2, options=options)
    assert time.monotonic() - started < 60
