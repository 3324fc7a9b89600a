"""Running the installed ``leadscore`` console script as a user would, and what its bad-input
errors must look like."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# the script beside this interpreter: the code under test, never another install on PATH
LEADSCORE = str(Path(sys.executable).parent / "leadscore")


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def assert_one_line_error(
    result: subprocess.CompletedProcess, *fragments: str, alone: bool = True
) -> None:
    """Exit 2, no traceback, one ``error:`` line naming each fragment. ``alone``: nothing else
    on stderr; without it, other lines (MLflow creating a fresh store logs INFO) may precede."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines() if alone else error_lines(result)
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
