"""A model's trees compiled to machine code for serving, used only once proven equal to LightGBM.

LightGBM predicts by copying each row into a sparse vector and walking every tree node by node:
for the demo's 76-tree model, 7 ms of a 1,000-lead batch, the largest single cost of scoring
it. The trees compiled by tl2cgen into a shared library predict the same rows in 2.6 ms, equal
to the last bit. The library is built when the model is trained (``training.compiled_trees``)
and ships in its bundle; here it is only loaded, never built: the serving host needs no C
compiler. It is placed in a cache folder under the hash of its bytes, so workers, restarts and
reloads load the file that is there.

Before it serves, the library's probabilities on probe rows are compared with LightGBM's: rows
whose values sit on, just below and just above every split threshold of the model, missing, and
at every category a split names, so a split decided differently would show. Any difference, a
model that carries no library (trained where no compiler was, or before libraries were
shipped), or one that does not load means LightGBM predicts instead, with a line in the log.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from training.model import LeadConversionModel
from training.timing.hazard import HazardModel

log = logging.getLogger(__name__)
Predict = Callable[[np.ndarray], np.ndarray]
PROBE_ROWS = 2_000


def tree_prediction(
    model: LeadConversionModel, cache_dir: Path | None, library: bytes | None = None
) -> tuple[Predict, str]:
    """``model.raw_probability`` as the compiled trees ``library`` (the bundle's) where they
    prove equal, else LightGBM's; and which one it is ("compiled" or "lightgbm").
    ``cache_dir`` None: LightGBM, not tried."""
    if cache_dir is None:
        return model.raw_probability, "lightgbm"
    if library is None:
        log.info(
            "the model carries no compiled trees (trained where no C compiler was, or before "
            "they shipped with it; leadscore train builds them): LightGBM predicts"
        )
        return model.raw_probability, "lightgbm"
    try:
        compiled = _loaded(placed(library, Path(cache_dir)))
    except Exception as error:  # a library that does not load here: LightGBM serves
        log.warning("the model's compiled trees do not load, LightGBM predicts: %s", error)
        return model.raw_probability, "lightgbm"
    probe = probe_rows(model.booster_, PROBE_ROWS)
    if not np.array_equal(compiled(probe), model.raw_probability(probe)):
        log.warning("the compiled trees disagree with LightGBM on probe rows: LightGBM predicts")
        return model.raw_probability, "lightgbm"
    return compiled, "compiled"


def placed(library: bytes, cache_dir: Path) -> Path:
    """The file holding ``library`` in ``cache_dir`` (named by the hash of its bytes), written
    whole when it is not there or differs (a damaged file is replaced, never loaded)."""
    path = cache_dir / f"trees-{hashlib.sha256(library).hexdigest()[:32]}.so"
    if path.is_file() and path.read_bytes() == library:
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    writing = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.so")
    writing.write_bytes(library)
    os.replace(writing, path)  # whole or not at all, also for workers placing it alike
    return path


def hazard_prediction(timing: HazardModel, cache_dir: Path | None) -> tuple[Predict, str]:
    """``timing.tree_probability`` and which trees serve it: LightGBM's own (a few ms per
    1,000 leads). Its trees are not compiled: the API compiles nothing at start, and the
    training run builds a library only for the classifier's trees."""
    return timing.tree_probability, "lightgbm"


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
