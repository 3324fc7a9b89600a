"""The C libraries serving keeps, built at install time and only loaded here.

Two parts of serving run as C: the reasons' SHAP values (``serving/scoring/tree_shap.c``) and
the JSON batch reader (``serving/decode/json_reader.c``). ``pip install .`` (or ``-e .``, what
``make venv`` runs) compiles each into a shared library beside its source (``setup.py``), and a
wheel carries them, so the serving host needs no C compiler and the API never runs one. A
library that is missing, or was built from another version of its source (a checkout changed
after the install), is not loaded: that part falls back to the Python library that does the
same job, and the log says so in one line naming the command that builds it.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
BUILD_HINT = "pip install . (or pip install -e ., as make venv does) builds it, with a C compiler"


class NotBuilt(RuntimeError):
    """The library of a C source is not there, or is not the one of this source."""


def library_path(source: Path) -> Path:
    """Where the install puts the library of ``source``: ``_<stem>`` with this Python's
    extension suffix, beside the source."""
    return source.with_name(f"_{source.stem}{sysconfig.get_config_var('EXT_SUFFIX')}")


def installed_library(source: Path, load: Callable[[Path], T]) -> T:
    """``load(library)`` of the library built from ``source`` at install time; ``NotBuilt``
    (one line saying how to build it) when it is missing or was built from another source."""
    library = library_path(source)
    if not library.is_file():
        raise NotBuilt(f"{source.name} was not built at install time ({library.name} is missing)")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    # a char array of 64 hex digits and the terminating zero
    built_from = (ctypes.c_char * 65).in_dll(ctypes.CDLL(str(library)), "leadscore_source_sha256")
    if built_from.value.decode() != digest:
        raise NotBuilt(f"{library.name} was built from another version of {source.name}")
    return load(library)


def installed_or_none(
    source: Path, enabled: bool, load: Callable[[Path], T], instead: str
) -> T | None:
    """``installed_library``, or None where the Python libraries do the work ``instead``: when
    switched off (``enabled`` False) or not built (logged with how to build it)."""
    if not enabled:
        return None
    try:
        return installed_library(source, load)
    except (NotBuilt, OSError, ValueError) as error:
        log.warning("%s, %s: %s", error, instead, BUILD_HINT)
        return None


def declared(signatures: dict[str, tuple[Any, list[Any]]]) -> Callable[[Path], ctypes.CDLL]:
    """A ``load`` for ``installed_library``: the library with its functions' result and argument
    types (name: (restype, argtypes)), so ctypes converts and checks every call's arguments."""

    def load(library: Path) -> ctypes.CDLL:
        loaded = ctypes.CDLL(str(library))
        for name, (restype, argtypes) in signatures.items():
            function = getattr(loaded, name)
            function.restype, function.argtypes = restype, argtypes
        return loaded

    return load
