"""Native code built once, at install time: ``pip install .`` (or ``-e .``, what ``make venv``
runs) compiles the C files serving keeps into plain shared libraries beside them, and a wheel
carries them, so a serving host needs no C compiler: the API only loads them with ctypes
(``serving.scoring.c_libraries``). Everything else is declared in pyproject.toml.

Each library carries the SHA-256 of the source it was built from (``leadscore_source_sha256``),
so a checkout whose C source changed after the install is noticed at load (and rebuilt by
running the install again), never loaded stale.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# the C files that stay (README, Benchmarks): library name -> source
NATIVE = {
    "serving.decode._json_reader": "serving/decode/json_reader.c",
    "serving.scoring._tree_shap": "serving/scoring/tree_shap.c",
}


class BuildSharedLibraries(build_ext):
    """``build_ext`` for plain C shared libraries loaded by ctypes (no Python module init)."""

    def get_export_symbols(self, ext: Extension) -> list[str]:
        return []  # nothing for Python to import: ctypes finds the C functions by name


def _library(name: str, source: str) -> Extension:
    digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    return Extension(
        name,
        [source],
        define_macros=[("LEADSCORE_SOURCE_SHA256", f'"{digest}"')],
        extra_compile_args=["-O2"],
        libraries=["m"],
    )


setup(
    ext_modules=[_library(name, source) for name, source in NATIVE.items()],
    cmdclass={"build_ext": BuildSharedLibraries},
)
