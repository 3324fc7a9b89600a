"""The reasons' SHAP values come from serving/tree_shap.c only where they equal LightGBM's
TreeSHAP: on the served models, on trees with every kind of split LightGBM makes (categories,
missing as zero or NaN, a feature split again below itself, deep trees), refused when a split
decides differently, and LightGBM's without a compiler or when switched off."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from serving.scoring import c_libraries, tree_shap
from serving.scoring.compiled_trees import probe_rows
from serving.scoring.tree_shap import FlatTrees, tree_contributions


def _close(ours: np.ndarray, lightgbm: np.ndarray) -> None:
    np.testing.assert_allclose(ours, lightgbm, rtol=0, atol=1e-12 * np.abs(lightgbm).max())


def test_served_reasons_use_compiled_shap_equal_to_lightgbm(client, served_on_real_rows):
    for transition, served, matrix in served_on_real_rows:
        assert served.explanation == "compiled", transition
        _close(served.contributions(matrix), served.bundle.model.contribution_matrix(matrix))
    listed = client.get("/v1/models").json()["models"]
    assert {m["explanation"] for m in listed} == {"compiled"}


def _booster(seed: int, **params) -> lgb.Booster:
    """Trees on random data with two categorical inputs, missing values and zeros, some deep
    (a leaf-wise tree of 63 leaves) and splitting the same input again below itself."""
    rng = np.random.default_rng(seed)
    n = 4_000
    x = rng.normal(size=(n, 6))
    x[:, 0] = rng.integers(0, 40, n)  # categories, some codes above 31 (a second bitset word)
    x[:, 1] = rng.integers(0, 5, n)
    x[rng.random((n, 6)) < 0.1] = np.nan
    x[:, 2][rng.random(n) < 0.2] = 0.0
    signal = np.sin(3 * np.nan_to_num(x[:, 3])) + (x[:, 0] % 7 == 2) + np.nan_to_num(x[:, 4]) ** 2
    y = (signal + rng.normal(scale=0.5, size=n) > 1).astype(int)
    data = lgb.Dataset(x, y, categorical_feature=[0, 1], params={"verbose": -1})
    settings = {"objective": "binary", "num_leaves": 63, "min_data_in_leaf": 5, "verbose": -1}
    return lgb.train(settings | params, data, num_boost_round=25)


@pytest.mark.parametrize(
    "params",
    [{}, {"zero_as_missing": True}, {"use_missing": False}, {"max_depth": 3, "num_leaves": 8}],
    ids=["nan-missing", "zero-as-missing", "no-missing", "shallow"],
)
def test_every_kind_of_split_explains_as_lightgbm(params, tmp_path):
    booster = _booster(seed=len(params), **params)
    trees = FlatTrees.of(booster.dump_model())
    depth_points = 2 if "max_depth" in params else 4  # depth // 2 + 1: depth 3, or 6 and more
    assert max(trees.tree_points) >= depth_points
    library = c_libraries.installed_library(tree_shap._SOURCE, tree_shap._LOAD)
    rng = np.random.default_rng(1)
    random_rows = rng.normal(size=(300, 6))
    random_rows[:, 0] = rng.integers(-2, 70, 300)  # unknown and negative categories too
    random_rows[rng.random((300, 6)) < 0.2] = np.nan
    for rows in (random_rows, probe_rows(booster, 500), np.zeros((1, 6))):
        _close(trees.shap(library, rows), booster.predict(rows, pred_contrib=True)[:, :-1])
    with pytest.raises(ValueError, match="columns"):  # the C code would read past the rows
        trees.shap(library, random_rows[:, :3])


def test_a_split_decided_differently_is_refused(model, tmp_path, monkeypatch):
    # every numeric threshold one step up: only values exactly on a threshold go the other way
    monkeypatch.setattr(tree_shap, "_threshold", lambda t: float(np.nextafter(t, np.inf)))
    contributions, explanation = tree_contributions(model, tmp_path)
    assert explanation == "lightgbm"
    assert contributions == model.contribution_matrix


def test_without_the_built_library_or_when_switched_off_lightgbm_explains(
    model, registry, make_client, tmp_path, monkeypatch
):
    assert tree_contributions(model, None) == (model.contribution_matrix, "lightgbm")
    monkeypatch.setattr(c_libraries, "library_path", lambda source: tmp_path / "missing.so")
    assert tree_contributions(model, tmp_path / "empty") == (model.contribution_matrix, "lightgbm")
    monkeypatch.undo()
    off = make_client(registry.model_copy(update={"compiled_trees": False}))
    assert {m["explanation"] for m in off.get("/v1/models").json()["models"]} == {"lightgbm"}
