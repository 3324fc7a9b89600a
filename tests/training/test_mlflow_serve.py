"""The registered model is servable as is: `mlflow models serve` answers a scoring request."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from training.run import train_transition
from training.tracking.pyfunc import example_payloads, flat_rows

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status


def test_mlflow_models_serve_answers_with_probabilities(
    training_sets, simulation, hand_set_rules, mlflow_store, tmp_path
):
    train_transition(
        training_sets["mql_to_sql"],
        simulation.history,
        hand_set_rules,
        model_params={"n_estimators": 20},
    )
    port = _free_port()
    mlflow_cli = Path(sys.executable).parent / "mlflow"
    # as in an activated venv: mlflow starts the venv's uvicorn by name
    path = f"{mlflow_cli.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_store, "PATH": path}
    server = subprocess.Popen(
        [
            str(mlflow_cli),
            "models",
            "serve",
            "-m",
            "models:/leadscore-mql-to-sql@champion",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if _get(f"http://127.0.0.1:{port}/ping") == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"mlflow models serve did not start: {server.stderr.read().decode()[-2000:]}"
                )
            time.sleep(0.5)
        rows = flat_rows(
            example_payloads(simulation.history, training_sets["mql_to_sql"].frame.tail(3))
        )
        rows = rows.astype({"has_phone": "object"})
        rows.loc[0, ["industry", "company_size", "has_phone"]] = None  # CRM gaps are accepted
        body = json.dumps(
            {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
        )
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            predictions = json.loads(response.read())["predictions"]
        assert len(predictions) == 3
        assert all(0 < p["probability"] < 1 for p in predictions)
        assert all(isinstance(p["hand_set_points"], float | int) for p in predictions)
    finally:
        server.terminate()
        server.wait(timeout=30)
