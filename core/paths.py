"""Paths a user names: folders to write into and files or folders to read.

The operating system's complaints (the path exists and is a file, permission denied, a file
where a folder belongs, a folder where a file belongs) become one ``InputError`` naming the path
and the problem, so the command line prints one line instead of a traceback. Output folders are
checked before the work that fills them starts: a simulation or a build of training sets should
not run for minutes only to find it cannot write its result.
"""

from __future__ import annotations

import errno
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import InputError

_PROBLEMS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EISDIR: "is a folder where a file is expected",
    errno.EEXIST: "exists and is a file, not a folder",
    errno.ENAMETOOLONG: "the name is too long",
}


def _file_in_the_way(path: Path) -> Path | None:
    """The first part of ``path`` that exists and is not a folder (it blocks the folders below)."""
    for part in reversed([path, *path.parents]):
        if part.exists() and not part.is_dir():
            return part
    return None


def _nearest_existing(path: Path) -> Path:
    return next((p for p in [path, *path.parents] if p.exists()), Path("."))


def path_error(path: Path, error: OSError) -> InputError:
    """The ``InputError`` for an ``OSError`` met while reading or writing at ``path``."""
    path = Path(path)
    where = Path(error.filename) if error.filename else path
    if error.errno == errno.ENOTDIR:
        blocker = _file_in_the_way(where)
        if blocker is not None and blocker != where:
            return InputError(f"{where}: {blocker} is a file, not a folder")
        return InputError(f"{where}: is a file, not a folder")
    problem = _PROBLEMS.get(error.errno, error.strerror or type(error).__name__)
    return InputError(f"{where}: {problem}")


def output_folder(path: Path) -> Path:
    """``path`` as a folder to write into: created with its parents when missing, then proved
    writable by creating (and removing) a file in it. Raises ``InputError`` naming the path."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is a file; give a folder to write into")
    if not path.is_dir():
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                parent = _nearest_existing(path.parent)
                reason = _PROBLEMS[error.errno]
                raise InputError(
                    f"{path}: cannot create the folder: {parent} is not writable ({reason})"
                ) from None
            raise path_error(path, error) from None
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".leadscore-write-check-"):
            pass
    except OSError as error:
        reason = _PROBLEMS.get(error.errno, error.strerror or type(error).__name__)
        raise InputError(f"{path}: the folder is not writable ({reason})") from None
    return path


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turns an ``OSError`` raised while writing the file ``path`` into the ``InputError``
    naming it and the problem (some writers, pyarrow's among them, name no file)."""
    try:
        yield
    except OSError as error:
        if error.errno == errno.ENOTDIR or not error.filename:
            error.filename = str(path)
        raise path_error(Path(path), error) from None


def input_file(path: Path, what: str = "file") -> Path:
    """``path`` as a file to read: ``InputError`` when it is missing or is a folder."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the {what} itself")
    if not path.exists():
        blocker = _file_in_the_way(path)
        if blocker is not None and blocker != path:
            raise InputError(f"{path}: {blocker} is a file, not a folder")
        raise InputError(f"{path}: no such {what}")
    return path


def input_folder(path: Path, what: str = "folder") -> Path:
    """``path`` as a folder to read from: ``InputError`` when it is missing or is a file."""
    path = Path(path)
    if path.is_dir():
        return path
    if path.exists():
        raise InputError(f"{path}: is a file; give the {what}")
    raise InputError(f"{path}: no such {what}")
