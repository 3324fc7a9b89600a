"""The API predicts with the models' trees compiled to machine code only where they predict
exactly as LightGBM: built once per model, refused when a split decides differently, and
LightGBM without a compiler or when switched off."""

from __future__ import annotations

import re

import numpy as np

from serving.scoring import compiled_trees
from serving.scoring.compiled_trees import probe_rows, tree_prediction


def test_served_trees_are_compiled_and_predict_as_lightgbm_to_the_bit(client, served_on_real_rows):
    for transition, served, matrix in served_on_real_rows:
        assert served.inference == "compiled", transition
        expected = served.bundle.model.raw_probability(matrix)
        np.testing.assert_array_equal(served.tree_prediction(matrix), expected)
    listed = client.get("/v1/models").json()["models"]
    assert {m["inference"] for m in listed} == {"compiled"}


def test_the_library_is_built_once_per_model(model, tmp_path, monkeypatch):
    predict, inference = tree_prediction(model, tmp_path)
    assert inference == "compiled"
    built = list(tmp_path.glob("trees-*.so"))
    assert len(built) == 1

    def no_build(*args, **kwargs):
        raise AssertionError("built again")

    monkeypatch.setattr("tl2cgen.export_lib", no_build)
    again, inference = tree_prediction(model, tmp_path)
    assert inference == "compiled" and list(tmp_path.glob("trees-*.so")) == built
    probe = probe_rows(model.booster_, 500)
    np.testing.assert_array_equal(again(probe), predict(probe))


def test_a_damaged_library_in_the_cache_is_built_again(model, tmp_path):
    tree_prediction(model, tmp_path)
    (library,) = tmp_path.glob("trees-*.so")
    library.write_bytes(b"not a library")
    predict, inference = tree_prediction(model, tmp_path)
    assert inference == "compiled"
    assert library.stat().st_size > 1_000
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


def test_a_library_deciding_one_split_differently_is_refused(model, tmp_path, monkeypatch):
    moved = _one_split_moved(model.booster_.model_to_string())
    wrong = compiled_trees._compiled(moved, tmp_path)
    probe = probe_rows(model.booster_, 2_000)
    assert not np.array_equal(wrong(probe), model.raw_probability(probe))  # the probe sees it

    monkeypatch.setattr(compiled_trees, "_compiled", lambda text, cache_dir: wrong)
    predict, inference = tree_prediction(model, tmp_path)
    assert inference == "lightgbm"
    np.testing.assert_array_equal(predict(probe), model.raw_probability(probe))


def test_without_a_compiler_or_when_switched_off_lightgbm_predicts(
    model, registry, make_client, tmp_path, monkeypatch
):
    monkeypatch.setattr(compiled_trees.shutil, "which", lambda name: None)
    predict, inference = tree_prediction(model, tmp_path / "empty")
    assert inference == "lightgbm" and predict == model.raw_probability
    assert tree_prediction(model, None)[1] == "lightgbm"
    off = make_client(registry.model_copy(update={"compiled_trees": False}))
    assert {m["inference"] for m in off.get("/v1/models").json()["models"]} == {"lightgbm"}
