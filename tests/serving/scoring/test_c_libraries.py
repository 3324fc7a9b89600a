"""C libraries are built once per source and machine, kept whole, and built again when their
file in the cache is damaged or the source changes."""

from __future__ import annotations

import ctypes

import pytest

from serving.scoring import c_libraries
from serving.scoring.c_libraries import compiled_c

SOURCE = "int answer(void) { return %d; }\n"


def _answer(path) -> int:
    return ctypes.CDLL(str(path)).answer()


def test_a_library_is_built_once_and_again_only_when_needed(tmp_path, monkeypatch):
    source = tmp_path / "the_answer.c"
    source.write_text(SOURCE % 42)
    cache = tmp_path / "cache"
    built = compiled_c(source, cache, lambda path: path)  # built, not loaded (so not mapped)
    assert built.parent == cache and built.name.startswith("the-answer-")

    def no_build(*args, **kwargs):
        raise AssertionError("built again")

    with monkeypatch.context() as patched:
        patched.setattr(c_libraries.subprocess, "run", no_build)
        assert compiled_c(source, cache, lambda path: path) == built  # from the cache
    built.write_bytes(b"not a library")
    assert compiled_c(source, cache, _answer) == 42  # damaged: built again
    source.write_text(SOURCE % 7)
    assert compiled_c(source, cache, _answer) == 7  # a new source: a library of its own
    assert len(list(cache.glob("the-answer-*.so"))) == 2
    assert not list(cache.glob(".*"))  # no half-written files left


def test_no_compiler_is_an_error_the_callers_fall_back_on(tmp_path, monkeypatch):
    source = tmp_path / "the_answer.c"
    source.write_text(SOURCE % 42)
    monkeypatch.setattr(c_libraries.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="no C compiler"):
        compiled_c(source, tmp_path / "cache", _answer)
