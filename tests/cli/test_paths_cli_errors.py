"""Output folders and input paths that cannot be used: one line naming the path and the problem,
exit 2, never a traceback (an existing file where a folder is expected, a file in the way of a
folder, a folder where a file is expected, a folder or file that may not be written).

The permission cases run the command as an unprivileged user: root ignores mode bits, so as root
the command is started through ``setpriv`` as ``nobody`` (uid 65534)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from features.io import write_lead_history
from tests.cli.console import LEADSCORE, assert_one_line_error
from tests.factories import make_history

NOBODY = 65534


def run(args: list[str], cwd: Path, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, LEADSCORE, *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.fixture
def history_dir(tmp_path: Path) -> Path:
    data = tmp_path / "raw"
    write_lead_history(make_history(), data, "csv")
    return data


@pytest.mark.parametrize("command", ["generate", "features"])
def test_out_naming_an_existing_file_exits_2_naming_it(tmp_path: Path, history_dir, command):
    (tmp_path / "taken").write_text("not a folder")
    args = ["--out", "taken"] + (["--leads", "10"] if command == "generate" else [])
    args += ["--data", str(history_dir)] if command == "features" else []
    result = run([command, *args], tmp_path)
    assert_one_line_error(result, "taken: exists and is a file")
    assert (tmp_path / "taken").read_text() == "not a folder"


def test_out_below_a_file_names_the_file_in_the_way(tmp_path: Path):
    (tmp_path / "taken").write_text("not a folder")
    result = run(["generate", "--leads", "10", "--out", "taken/raw"], tmp_path)
    assert_one_line_error(result, "taken/raw: taken is a file, not a folder")


def test_weights_out_naming_an_existing_file_fails_before_the_comparison(
    tmp_path: Path, history_dir
):
    (tmp_path / "taken").write_text("")
    result = run(["weights", "--data", str(history_dir), "--out", "taken"], tmp_path)
    assert_one_line_error(result, "taken: exists and is a file")
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["train", "--table", "folder", "--label", "converted"], "folder: is a folder; give the"),
        (["train", "--rules", "folder", "--data", "folder"], "folder: is a folder; give the rules"),
        (["features", "--data", "afile"], "afile: is a file; give the folder of lead history"),
        (["features", "--data", "missing"], "missing: no such folder of lead history"),
    ],
)
def test_input_path_of_the_wrong_kind_exits_2_naming_it(tmp_path: Path, args, expected):
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("")
    assert_one_line_error(run(args, tmp_path), expected)


# --- permissions: as an unprivileged user ---------------------------------------------------
def _unprivileged() -> tuple[str, ...]:
    """How to run a command so that mode bits apply: as is for a normal user; as root through
    ``setpriv`` as nobody, if this interpreter can start that way (else the test skips)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot drop privileges")
    prefix = (setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import leadscore.cli"],
        capture_output=True,
        cwd="/",
        timeout=120,
    )
    if probe.returncode != 0:
        pytest.skip(f"this interpreter does not start as uid {NOBODY}")
    return prefix


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the unprivileged user may enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="leadscore-perm-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_out_in_a_folder_that_may_not_be_written_exits_2_naming_it(shared_dir: Path):
    prefix = _unprivileged()
    locked = shared_dir / "locked"
    locked.mkdir(mode=0o555)
    locked.chmod(0o555)
    for out, expected in (
        ("locked/raw", "locked/raw: cannot create the folder: locked is not writable"),
        ("locked", "locked: the folder is not writable (permission denied)"),
    ):
        result = run(["generate", "--leads", "10", "--out", out], shared_dir, prefix)
        assert_one_line_error(result, expected)
        assert "simulating" not in result.stderr  # checked before the work, not after it
    assert list(locked.iterdir()) == []


def test_a_file_that_may_not_be_overwritten_is_named(shared_dir: Path):
    prefix = _unprivileged()
    out = shared_dir / "raw"
    out.mkdir(mode=0o777)
    out.chmod(0o777)
    (out / "leads.parquet").write_bytes(b"")
    (out / "leads.parquet").chmod(0o444)  # read-only, to its owner too
    result = run(["generate", "--leads", "10", "--out", "raw"], shared_dir, prefix)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "error: raw/leads.parquet: permission denied"
