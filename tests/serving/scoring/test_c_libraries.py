"""The C libraries serving keeps are built at install time and only loaded by the API: starting
it runs no compiler, and a library that is missing or built from another source is not loaded
(the Python library does that part, and the log says how to build it)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from serving.decode import json_reader
from serving.scoring import c_libraries, tree_shap
from serving.scoring.c_libraries import NotBuilt, installed_library, library_path

SOURCES = (json_reader._SOURCE, tree_shap._SOURCE)


@pytest.mark.parametrize("source", SOURCES, ids=lambda source: source.name)
def test_the_install_built_each_library_from_its_source(source):
    assert installed_library(source, lambda path: path) == library_path(source)
    assert library_path(source).parent == source.parent


def test_a_missing_library_or_one_built_from_another_source_is_not_loaded(tmp_path):
    source = tmp_path / "json_reader.c"
    source.write_bytes(json_reader._SOURCE.read_bytes())
    with pytest.raises(NotBuilt, match=r"json_reader.c was not built at install time"):
        installed_library(source, lambda path: path)
    shutil.copy(library_path(json_reader._SOURCE), library_path(source))
    assert installed_library(source, lambda path: path) == library_path(source)
    source.write_bytes(source.read_bytes() + b"/* changed after the install */\n")
    with pytest.raises(NotBuilt, match=r"built from another version of json_reader.c"):
        installed_library(source, lambda path: path)


def test_starting_the_api_runs_no_compiler(registry, make_client, tmp_path, monkeypatch, caplog):
    """No C compiler on the PATH and any program started recorded: the API starts, loads both
    C libraries and the models' compiled trees (built at training, shipped in the bundles),
    and starts no program."""
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no cc, gcc or clang
    started: list[object] = []

    class Recorded(subprocess.Popen):
        def __init__(self, args, *more, **options):
            started.append(args)
            super().__init__(args, *more, **options)

    monkeypatch.setattr(subprocess, "Popen", Recorded)
    caplog.set_level("INFO")
    client = make_client(registry)
    models = client.get("/v1/models").json()["models"]
    assert {m["explanation"] for m in models} == {"compiled"}  # tree_shap.c, loaded
    assert {m["inference"] for m in models} == {"compiled"}  # the bundles' trees, loaded
    assert client.app.state.json_reader is not None  # json_reader.c, loaded
    assert "JSON batches read by compiled C" in caplog.text
    assert started == []


def test_the_loader_holds_no_way_to_compile():
    text = c_libraries.__loader__.get_source(c_libraries.__name__)
    for word in ("subprocess", "gcc", "clang", "shutil.which"):
        assert word not in text
