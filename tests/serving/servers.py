"""A real ``run_server`` in a subprocess on a free loopback port, for the end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(store: Settings) -> dict[str, str]:
    """This process's environment with ``store``'s registry (``MLFLOW_TRACKING_URI`` would win)."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(
        LEADSCORE_MLFLOW_TRACKING_URI=store.mlflow_tracking_uri,
        LEADSCORE_MLFLOW_ARTIFACTS_DIR=str(store.mlflow_artifacts_dir),
        LEADSCORE_EXPERIMENT=store.experiment,
        PYTHONPATH=str(ROOT),
    )
    return env


def start_server(store: Settings, folder: Path, workers: int) -> tuple[subprocess.Popen, str]:
    """``run_server`` serving ``store``'s champions: (the process, its base URL)."""
    port = free_port()
    code = (
        "from serving.api.app import run_server; "
        f"run_server(host='127.0.0.1', port={port}, workers={workers})"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=folder,
        env=server_env(store),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return server, f"http://127.0.0.1:{port}"


def wait_ready(server: subprocess.Popen, base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        assert server.poll() is None, server.stderr.read().decode()[-2000:]
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"server did not become ready in {seconds:.0f} s"
        time.sleep(0.2)
