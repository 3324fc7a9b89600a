"""The one end-to-end check: ``run_server`` starts real uvicorn in a subprocess on a free
loopback port, and a lead is scored over HTTP; and uvicorn runs on uvloop and httptools."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import serving.app

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_uvicorn_serves_scores_over_http(registry, lead_request, tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(
        LEADSCORE_MLFLOW_TRACKING_URI=registry.mlflow_tracking_uri,
        LEADSCORE_MLFLOW_ARTIFACTS_DIR=str(registry.mlflow_artifacts_dir),
        LEADSCORE_EXPERIMENT=registry.experiment,
        PYTHONPATH=str(ROOT),
    )
    code = f"from serving.app import run_server; run_server(host='127.0.0.1', port={port})"
    server = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become ready in 60 s"
            time.sleep(0.2)
        response = httpx.post(f"{base}/v1/score", json=lead_request, timeout=10)
        assert response.status_code == 200
        assert 0 < response.json()["mql_to_sql"]["probability"] < 1
        assert httpx.post(f"{base}/v1/score", json={}, timeout=10).status_code == 422
        assert "leadscore_requests_total" in httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_run_server_uses_uvloop_and_httptools(monkeypatch: pytest.MonkeyPatch):
    options = {}
    monkeypatch.setattr(serving.app, "load_for", lambda settings: None)
    monkeypatch.setattr(serving.app.uvicorn, "run", lambda app, **kwargs: options.update(kwargs))
    serving.app.run_server(host="127.0.0.1", port=0)
    assert (options["loop"], options["http"]) == ("uvloop", "httptools")
