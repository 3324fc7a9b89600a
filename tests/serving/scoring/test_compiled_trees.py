"""The API predicts with the models' trees compiled to machine code only where they predict
exactly as LightGBM: built when the model is trained and shipped in its bundle, only loaded by
the API (placed in the cache once), refused when a split decides differently, and LightGBM
when the model carries no library or when switched off."""

from __future__ import annotations

import re

import numpy as np
import pytest

from serving.scoring import compiled_trees
from serving.scoring.compiled_trees import placed, probe_rows, tree_prediction
from training import compiled_trees as building
from training.compiled_trees import compile_trees, served_trees, trees_library


@pytest.fixture(scope="module")
def library(bundles) -> bytes:
    """The MQL -> SQL model's library, as its bundle ships it."""
    assert bundles["mql_to_sql"].compiled_trees is not None
    return bundles["mql_to_sql"].compiled_trees


def test_served_trees_are_compiled_and_predict_as_lightgbm_to_the_bit(client, served_on_real_rows):
    for transition, served, matrix in served_on_real_rows:
        assert served.inference == "compiled", transition
        expected = served.bundle.model.raw_probability(matrix)
        np.testing.assert_array_equal(served.tree_prediction(matrix), expected)
    listed = client.get("/v1/models").json()["models"]
    assert {m["inference"] for m in listed} == {"compiled"}


def test_the_library_is_placed_once_and_loaded_never_built(model, library, tmp_path, monkeypatch):
    def no_build(*args, **kwargs):
        raise AssertionError("the API built trees")

    monkeypatch.setattr("tl2cgen.export_lib", no_build)
    predict, inference = tree_prediction(model, tmp_path, library)
    assert inference == "compiled"
    (path,) = tmp_path.glob("trees-*.so")
    assert path.read_bytes() == library
    again, inference = tree_prediction(model, tmp_path, library)
    assert inference == "compiled" and list(tmp_path.glob("trees-*.so")) == [path]
    probe = probe_rows(model.booster_, 500)
    np.testing.assert_array_equal(again(probe), predict(probe))


def test_a_damaged_library_in_the_cache_is_replaced_from_the_bundle(model, library, tmp_path):
    path = placed(library, tmp_path)
    path.write_bytes(b"not a library")
    predict, inference = tree_prediction(model, tmp_path, library)
    assert inference == "compiled" and path.read_bytes() == library
    probe = probe_rows(model.booster_, 500)
    np.testing.assert_array_equal(predict(probe), model.raw_probability(probe))


def _one_split_moved(text: str) -> str:
    """The model text with its first tree's first numeric threshold moved up by the smallest step
    a double can take: only a value exactly on the old side of that step goes the other way."""
    text = re.sub(r"^tree_sizes=.*\n", "", text, flags=re.M)  # sizes change; LightGBM reparses
    start = text.index("Tree=0")
    tree = text[start : text.index("\n\n", start)]
    fields = dict(line.split("=", 1) for line in tree.splitlines() if "=" in line)
    thresholds = fields["threshold"].split(" ")
    numeric = next(i for i, d in enumerate(fields["decision_type"].split(" ")) if not int(d) & 1)
    thresholds[numeric] = repr(float(np.nextafter(float(thresholds[numeric]), np.inf)))
    moved = tree.replace(f"threshold={fields['threshold']}", f"threshold={' '.join(thresholds)}")
    return text.replace(tree, moved)


def test_a_library_deciding_one_split_differently_is_refused(model, tmp_path):
    wrong = compile_trees(_one_split_moved(served_trees(model)), "cc")
    probe = probe_rows(model.booster_, 2_000)
    wrong_predict = compiled_trees._loaded(placed(wrong, tmp_path))
    assert not np.array_equal(wrong_predict(probe), model.raw_probability(probe))  # seen
    predict, inference = tree_prediction(model, tmp_path, wrong)
    assert inference == "lightgbm"
    np.testing.assert_array_equal(predict(probe), model.raw_probability(probe))


def test_without_a_library_or_when_switched_off_lightgbm_predicts(
    model, library, registry, make_client, tmp_path, monkeypatch
):
    predict, inference = tree_prediction(model, tmp_path / "empty", None)
    assert inference == "lightgbm" and predict == model.raw_probability
    assert tree_prediction(model, None, library)[1] == "lightgbm"
    off = make_client(registry.model_copy(update={"compiled_trees": False}))
    assert {m["inference"] for m in off.get("/v1/models").json()["models"]} == {"lightgbm"}


def test_training_without_a_compiler_ships_no_library_and_says_why(model, monkeypatch):
    monkeypatch.setattr(building.shutil, "which", lambda name: None)
    library, said = trees_library(model)
    assert library is None and said.startswith("no C compiler (gcc, clang, cc) on the PATH")
