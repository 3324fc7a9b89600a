"""A model's trees compiled to machine code for serving, used only once proven equal to LightGBM.

LightGBM predicts by copying each row into a sparse vector and walking every tree node by node:
for the demo's 76-tree model, 7 ms of a 1,000-lead batch, the largest single cost of scoring
it. tl2cgen writes the trees out as C (one comparison per split) and the machine's C compiler
builds a library of them: 2.6 ms for the same rows, equal to the last bit. Building takes a
second or two for the demo's models (4.7 s for 300 trees), once per model: the library is kept
in a cache folder under a hash of the model's text, so workers and restarts load it.

Before it serves, the library's probabilities on probe rows are compared with LightGBM's: rows
whose values sit on, just below and just above every split threshold of the model, missing, and
at every category a split names, so a split decided differently would show. Any difference, no
C compiler, or a build that fails means LightGBM predicts instead, with a warning in the log.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from serving.scoring.c_libraries import c_compiler, cached_library
from training.model import LeadConversionModel
from training.timing.hazard import HazardModel

log = logging.getLogger(__name__)
Predict = Callable[[np.ndarray], np.ndarray]
PROBE_ROWS = 2_000


def tree_prediction(model: LeadConversionModel, cache_dir: Path | None) -> tuple[Predict, str]:
    """``model.raw_probability`` as compiled trees where they prove equal, else LightGBM's; and
    which one it is ("compiled" or "lightgbm"). ``cache_dir`` None: LightGBM, not tried."""
    if cache_dir is None:
        return model.raw_probability, "lightgbm"
    try:
        # the trees model.raw_probability uses (its best iteration), as text
        served = model.booster_.model_to_string(num_iteration=model.best_iteration_)
        compiled = _compiled(served, Path(cache_dir))
    except Exception as error:  # no compiler, tl2cgen missing or failing: LightGBM serves
        log.warning("compiling the trees failed, LightGBM predicts: %s", error)
        return model.raw_probability, "lightgbm"
    probe = probe_rows(model.booster_, PROBE_ROWS)
    if not np.array_equal(compiled(probe), model.raw_probability(probe)):
        log.warning("the compiled trees disagree with LightGBM on probe rows: LightGBM predicts")
        return model.raw_probability, "lightgbm"
    return compiled, "compiled"


def hazard_prediction(timing: HazardModel, cache_dir: Path | None) -> tuple[Predict, str]:
    """``timing.tree_probability`` (its trees, one pass per lead) as compiled trees where they
    prove equal on probe rows, else LightGBM's; and which one it is. Each lead asks the trees
    once, as for the classifier."""
    if cache_dir is None or timing.booster_ is None:
        return timing.tree_probability, "lightgbm"
    try:
        served = timing.booster_.model_to_string(num_iteration=timing.best_iteration_)
        compiled = _compiled(served, Path(cache_dir))
    except Exception as error:  # no compiler, tl2cgen missing or failing: LightGBM serves
        log.warning("compiling the timing trees failed, LightGBM predicts: %s", error)
        return timing.tree_probability, "lightgbm"
    probe = probe_rows(timing.booster_, PROBE_ROWS)
    if not np.array_equal(compiled(probe), timing.tree_probability(probe)):
        log.warning("the compiled timing trees disagree with LightGBM on probe rows: LightGBM")
        return timing.tree_probability, "lightgbm"
    return compiled, "compiled"


def _compiled(text: str, cache_dir: Path) -> Predict:
    """The library of the trees in ``text`` (a LightGBM model) from the cache, built first if it
    is not there (or does not load: a damaged file is built again rather than left to fail
    every start)."""
    import tl2cgen  # imported here: a server that does not compile never loads it
    import treelite

    stamp = f"{tl2cgen.__version__} {treelite.__version__} {platform.machine()}"
    key = hashlib.sha256(f"{stamp}\n{text}".encode()).hexdigest()[:32]

    def build(path: Path) -> None:
        compiler = c_compiler()
        booster = lgb.Booster(model_str=text)
        log.info("compiling %d trees with %s", booster.num_trees(), compiler)
        tl2cgen.export_lib(
            treelite.frontend.from_lightgbm(booster),
            toolchain=compiler,
            libpath=str(path),
            params={"parallel_comp": max(1, min(booster.num_trees(), os.cpu_count() or 1))},
            nthread=os.cpu_count() or 1,
        )

    return cached_library(cache_dir / f"trees-{key}.so", build, _loaded)


def _loaded(library: Path) -> Predict:
    import tl2cgen

    predictor = tl2cgen.Predictor(str(library), nthread=1)
    turn = threading.Lock()  # one prediction at a time per library (batch and single leads)

    def predict(matrix: np.ndarray) -> np.ndarray:
        data = tl2cgen.DMatrix(np.ascontiguousarray(matrix, dtype=np.float64))
        with turn:
            out = predictor.predict(data)
        return np.asarray(out, dtype=np.float64).reshape(len(matrix))

    return predict


def probe_rows(booster: lgb.Booster, rows: int, seed: int = 0) -> np.ndarray:
    """Rows whose every input takes values where the trees decide: each numeric split's
    threshold and the floats just below and above it, each category a split names and the next
    code, missing, and 0; combined at random (seeded) so that rows reach every part of the
    trees."""
    candidates: dict[int, set[float]] = {}
    for node in _splits(booster.dump_model()["tree_info"]):
        values = candidates.setdefault(node["split_feature"], {np.nan, 0.0})
        if node["decision_type"] == "==":
            for code in str(node["threshold"]).split("||"):
                values.update((float(code), float(code) + 1))
        else:
            t = float(node["threshold"])
            values.update((t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)))
    matrix = np.zeros((rows, booster.num_feature()))
    rng = np.random.default_rng(seed)
    for feature, values in candidates.items():
        matrix[:, feature] = rng.choice(np.array(sorted(values, key=_nan_last)), size=rows)
    return matrix


def _nan_last(value: float) -> tuple[bool, float]:
    return (bool(np.isnan(value)), 0.0 if np.isnan(value) else value)


def _splits(trees: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    stack = [tree["tree_structure"] for tree in trees]
    while stack:
        node = stack.pop()
        if "split_feature" in node:
            yield node
            stack.extend((node["left_child"], node["right_child"]))
