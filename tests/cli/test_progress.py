"""Progress of long jobs: on stderr only, a bar with counts and time left on a terminal, plain
lines anywhere else; library code reports through a plain callback (``core.progress``)."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
from pathlib import Path

import pytest

from core.progress import counted
from leadscore.progress import StderrProgress
from tests.cli.console import LEADSCORE


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}


# --- the callback contract ----------------------------------------------------------------------
def test_a_plain_callback_gets_the_step_and_its_notes_as_lines():
    lines: list[str] = []
    with counted(lines.append, "simulating 10 leads", total=2, unit="stages") as step:
        step(0, "leads")
        step(1)  # a count alone is for a display that counts
        step(1, "touches")
        step(2)
    assert lines == [
        "simulating 10 leads",
        "simulating 10 leads: leads",
        "simulating 10 leads: touches",
    ]


def test_no_callback_is_silent():
    with counted(None, "boosting", total=3, unit="trees") as step:
        step(1, "note")


class _Recorder:
    """A display that counts, recording what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def __call__(self, message: str) -> None:
        self.events.append(("line", message))

    def begin(self, task: str, total: int, unit: str) -> None:
        self.events.append(("begin", task, total, unit))

    def advance(self, done: int, note: str | None = None) -> None:
        self.events.append(("advance", done, note))

    def end(self) -> None:
        self.events.append(("end",))


def test_a_counting_display_gets_every_update_and_the_end_even_after_an_error():
    display = _Recorder()
    with pytest.raises(ValueError), counted(display, "bootstrap", 3, "resamples") as step:
        step(1)
        raise ValueError("bad row")
    assert display.events == [
        ("begin", "bootstrap", 3, "resamples"),
        ("advance", 1, None),
        ("end",),
    ]


# --- the command line's display -----------------------------------------------------------------
def test_without_a_terminal_a_counted_step_is_plain_lines_with_count_and_time_left():
    out = io.StringIO()
    display = StderrProgress(out, interactive=False, every_s=0)
    display("reading data/raw")
    with counted(display, "[mql_to_sql] boosting", total=4, unit="trees") as step:
        for done in range(1, 4):
            step(done)
    lines = out.getvalue().splitlines()
    assert lines[0] == "reading data/raw"
    assert lines[1] == "[mql_to_sql] boosting: 0/4 trees"
    assert lines[2].startswith("[mql_to_sql] boosting: 1/4 trees, ")
    assert "so far, about" in lines[2] and lines[2].endswith(" left")
    assert lines[-1].startswith("[mql_to_sql] boosting: 3/4 trees in ")  # early stopping
    assert "\x1b" not in out.getvalue()  # no terminal codes in a log


def test_without_a_terminal_count_lines_come_at_most_every_so_often():
    out = io.StringIO()
    display = StderrProgress(out, interactive=False, every_s=3600)
    with counted(display, "bootstrap", total=200, unit="resamples") as step:
        for done in range(1, 201):
            step(done)
    assert len(out.getvalue().splitlines()) == 2  # the start and the end


def test_messages_are_printed_as_written_not_read_as_markup():
    out = io.StringIO()
    display = StderrProgress(out, interactive=False)
    display("[mql_to_sql] registered version 1")
    assert out.getvalue() == "[mql_to_sql] registered version 1\n"


def _run_with_stderr_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run the console script with stderr on a pseudo-terminal (as in an interactive shell)
    and stdout on a pipe; returns (exit code, stdout, what the terminal received)."""
    leader, follower = pty.openpty()
    env = {**_env(), "TERM": "xterm-256color", "COLUMNS": "120"}
    process = subprocess.Popen(
        [LEADSCORE, *args], stdout=subprocess.PIPE, stderr=follower, cwd=cwd, env=env
    )
    os.close(follower)
    received = bytearray()
    while True:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            received += chunk
        elif process.poll() is not None:
            break
    stdout = process.stdout.read().decode()
    process.stdout.close()
    os.close(leader)
    return process.wait(timeout=60), stdout, received.decode(errors="replace")


def test_on_a_terminal_generate_draws_a_bar_on_stderr_and_stdout_holds_the_result(tmp_path):
    code, stdout, terminal = _run_with_stderr_on_a_terminal(
        ["generate", "--leads", "3000", "--out", str(tmp_path / "raw")], tmp_path
    )
    assert code == 0, terminal
    assert len(stdout.splitlines()) == 1 and stdout.startswith("wrote 3,000 leads"), stdout
    assert "\x1b[2K" in terminal  # redrawn in place, not line by line
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal)  # without colours and cursor moves
    # the bar is redrawn a few times a second: a stage's note may come and go between two
    bar = r"simulating 3,000 leads(: [a-z >-]+)? ━+.* [0-5]/5 stages 0:00:0\d elapsed, "
    assert re.search(bar + r"(-:--:--|0:00:\d\d) left", text), text
    assert re.search(r"\rsimulated [\d,]+ touches, [\d,]+ stage changes\r\n$", text)  # bar gone


def test_without_a_terminal_generate_prints_plain_progress_lines_on_stderr(tmp_path):
    result = subprocess.run(
        [LEADSCORE, "generate", "--leads", "500", "--out", str(tmp_path / "raw")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wrote 500 leads") and len(result.stdout.splitlines()) == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "simulating 500 leads: 0/5 stages"
    assert "simulating 500 leads: organic touches" in lines
    assert any(line.startswith("simulating 500 leads: 5/5 stages in ") for line in lines)
    assert "\x1b" not in result.stderr


@pytest.mark.slow
def test_weights_json_stays_one_object_on_stdout_with_progress_on_stderr(tmp_path, simulation_dir):
    args = ["--data", str(simulation_dir), "--out", str(tmp_path / "weights"), "--bootstrap", "20"]
    result = subprocess.run(
        [LEADSCORE, "weights", *args, "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["transition"] == "mql_to_sql"
    lines = result.stderr.splitlines()
    assert "[mql_to_sql] bootstrap: 0/20 resamples" in lines
    assert any(line.startswith("[mql_to_sql] bootstrap: 20/20 resamples in ") for line in lines)
    assert "[mql_to_sql] boosting plain LightGBM: 0/2,000 trees" in lines
    assert "[mql_to_sql] boosting on your rules at 1: 0/2,000 trees" in lines


def test_import_reads_each_table_as_a_counted_step_on_stderr(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [LEADSCORE, *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=_env(),
            timeout=300,
        )

    exported = run("generate", "--leads", "800", "--format", "salesforce", "--out", "export")
    assert exported.returncode == 0, exported.stderr
    result = run("import", "export", "--format", "salesforce", "--out", "imported")
    assert result.returncode == 0, result.stderr
    assert "reading" not in result.stdout  # the report on stdout, progress on stderr
    lines = result.stderr.splitlines()
    assert "reading leads from Lead: 0/800 rows" in lines
    assert any(re.fullmatch(r"reading leads from Lead: 800/800 rows in .+ s", x) for x in lines)
    touches = [x for x in lines if x.startswith("reading touches from Task: ")]
    total = re.fullmatch(r"reading touches from Task: 0/([\d,]+) rows", touches[0]).group(1)
    assert touches[-1].startswith(f"reading touches from Task: {total}/{total} rows in ")
