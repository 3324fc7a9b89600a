"""The demo ends with the three next steps, each a command that works as printed, and the
README's quick start shows the same lines."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from leadscore.next_steps import API_PORT, EXAMPLE_LEAD, MLFLOW_PORT, next_steps
from tests.cli.console import LEADSCORE
from tests.serving.servers import free_port

README = Path(__file__).resolve().parents[2] / "README.md"
AFTER_MAKE_DEMO = next_steps(
    scripts=".venv/bin",
    tracking_uri="sqlite:///mlflow.db",
    example_lead=Path("data/example_lead.json"),
    weights_report=Path("data/weights/report.html"),
)


def test_the_readme_quick_start_shows_the_next_steps_make_demo_prints():
    text = README.read_text(encoding="utf-8")
    quick_start = text[text.index("## Quick start") : text.index("## Command line")]
    block = "\n".join(AFTER_MAKE_DEMO)
    assert block in quick_start, block


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}


def _started(command: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        shlex.split(command),
        cwd=cwd,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _wait_for(process: subprocess.Popen, url: str, seconds: float = 90) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        try:
            answer = httpx.get(url, timeout=2)
            if answer.status_code == 200:
                return answer
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer in {seconds:.0f} s"
        time.sleep(0.3)


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)  # its own session: the server and any worker it started
    process.wait(timeout=30)


@pytest.mark.slow
def test_the_demo_ends_with_next_steps_that_run_as_printed(tmp_path):
    demo = subprocess.run(
        [LEADSCORE, "demo", "--leads", "3000"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(),
        timeout=900,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    lines = demo.stdout.rstrip("\n").splitlines()
    printed = lines[lines.index("next steps:") :]
    assert printed == next_steps(  # the last lines, naming this environment's programs
        scripts=str(Path(LEADSCORE).parent),
        tracking_uri="sqlite:///mlflow.db",
        example_lead=Path("data/example_lead.json"),
        weights_report=Path("data/weights/report.html"),
    )
    commands = [line.strip() for line in printed if line.startswith("     ")]
    ui, serve, curl, weights = commands

    # 3. the weights report, as printed
    result = subprocess.run(
        shlex.split(weights), capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "data" / "weights" / "report.html").is_file()

    # 2. the API and the curl line, as printed but on free ports (others may hold the usual)
    port = free_port()
    server = _started(serve.replace(f"--port {API_PORT}", f"--port {port}"), tmp_path)
    try:
        _wait_for(server, f"http://127.0.0.1:{port}/readyz")
        answer = subprocess.run(
            shlex.split(curl.replace(f"localhost:{API_PORT}", f"localhost:{port}")),
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
    finally:
        _stop(server)
    assert answer.returncode == 0, answer.stderr
    scored = json.loads(answer.stdout)
    assert scored["lead_id"] == "L-1042" and scored["stage"] == "mql"
    assert 0 < scored["mql_to_sql"]["probability"] < 1
    assert scored["mql_to_sql"]["model"]["alias"] == "champion"

    # 1. the MLflow UI, as printed but on a free port: it lists the demo's registered models
    port = free_port()
    mlflow_ui = _started(ui.replace(f"--port {MLFLOW_PORT}", f"--port {port}"), tmp_path)
    try:
        _wait_for(mlflow_ui, f"http://127.0.0.1:{port}/")
        models = httpx.get(
            f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/registered-models/search", timeout=10
        ).json()
    finally:
        _stop(mlflow_ui)
    names = {model["name"] for model in models["registered_models"]}
    assert names == {"leadscore-mql-to-sql", "leadscore-sql-to-won"}


def test_the_example_lead_file_is_the_lead_the_readme_scores():
    text = README.read_text(encoding="utf-8")
    start = text.index("curl -s localhost:8000/v1/score -H 'Content-Type: application/json' -d '{")
    body = text[text.index("'{", start) + 1 : text.index("}'", start) + 1]
    assert json.loads(body) == EXAMPLE_LEAD
