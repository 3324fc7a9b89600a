"""Running the installed ``leadscore`` console script as a user would, and what its bad-input
errors must look like."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# the script beside this interpreter: the code under test, never another install on PATH
LEADSCORE = str(Path(sys.executable).parent / "leadscore")


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 2, no traceback, and nothing on stderr but one ``error:`` line naming each
    fragment."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0]


def assert_error_after_progress(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 2, no traceback, and stderr ends in the one ``error:`` line naming each fragment
    (commands that ran a while print progress lines before it)."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == [lines[-1]], result.stderr
    for fragment in fragments:
        assert fragment in lines[-1]
