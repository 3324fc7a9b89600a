"""C code the API builds once per machine with its C compiler, and keeps in a cache folder.

Three parts of serving run as C when they can: a model's trees (``serving.scoring.compiled_trees``,
written out by tl2cgen), their SHAP values (``serving.scoring.tree_shap``) and the JSON batch
reader (``serving.decode.json_reader``). Each library is kept under a hash of what it was built
from, so workers and restarts load it; each part falls back to the Python libraries when there
is no compiler.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
_COMPILERS = ("gcc", "clang", "cc")


def compiled_c(source: Path, cache_dir: Path, load: Callable[[Path], T]) -> T:
    """``load(library)`` of ``source`` (one C file) built with ``-O2``, from the cache when it
    is there."""
    compiler = c_compiler()
    stamp = f"{compiler} {platform.machine()}".encode()
    key = hashlib.sha256(source.read_bytes() + stamp).hexdigest()[:32]

    def build(path: Path) -> None:
        command = [compiler, "-O2", "-shared", "-fPIC", "-o", str(path), str(source), "-lm"]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    return cached_library(cache_dir / f"{source.stem.replace('_', '-')}-{key}.so", build, load)


def compiled_or_none(
    source: Path, cache_dir: Path | None, load: Callable[[Path], T], instead: str
) -> T | None:
    """``compiled_c``, or None where the Python libraries do the work ``instead``: when
    ``cache_dir`` is None (compiled code switched off) or the build fails (no compiler)."""
    if cache_dir is None:
        return None
    try:
        return compiled_c(source, Path(cache_dir), load)
    except Exception as error:
        log.warning("building %s failed, %s: %s", source.name, instead, error)
        return None


def declared(signatures: dict[str, tuple[Any, list[Any]]]) -> Callable[[Path], ctypes.CDLL]:
    """A ``load`` for ``compiled_c``: the library with its functions' result and argument types
    (name: (restype, argtypes)), so ctypes converts and checks every call's arguments."""

    def load(library: Path) -> ctypes.CDLL:
        loaded = ctypes.CDLL(str(library))
        for name, (restype, argtypes) in signatures.items():
            function = getattr(loaded, name)
            function.restype, function.argtypes = restype, argtypes
        return loaded

    return load


def cached_library(library: Path, build: Callable[[Path], None], load: Callable[[Path], T]) -> T:
    """``load(library)``, built first with ``build(path)`` when it is not there, or does not
    load (a damaged file is built again rather than left to fail every start)."""
    if library.is_file():
        try:
            return load(library)
        except Exception as error:
            log.warning("%s does not load (%s): building it again", library, error)
            library.unlink(missing_ok=True)
    library.parent.mkdir(parents=True, exist_ok=True)
    building = library.with_name(f".{library.stem}.{os.getpid()}.{threading.get_ident()}.so")
    build(building)
    os.replace(building, library)  # whole or not at all, also for workers building alike
    return load(library)


def c_compiler() -> str:
    """The first C compiler on the PATH (RuntimeError if there is none)."""
    compiler = next((c for c in _COMPILERS if shutil.which(c)), None)
    if compiler is None:
        raise RuntimeError(f"no C compiler ({', '.join(_COMPILERS)}) on the PATH")
    return compiler
