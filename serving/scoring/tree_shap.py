"""SHAP values of a model's trees in C, in nodes x depth/2 time, used only once proven equal to
LightGBM's.

LightGBM's TreeSHAP costs leaves x depth^2 per tree and row: 0.6-0.8 ms a lead for the demo's
76-tree MQL -> SQL model (leaves of depth up to 17), the largest single cost of scoring one lead
with its reasons, and 0.6 s of a 1,000-lead batch that asks for reasons. ``tree_shap.c`` gets
the same values in nodes x depth/2 (see its header for the method): one library for every
model, built at install time (``setup.py``; ``serving.scoring.c_libraries`` loads it).

Before it serves a model, its values on probe rows (``serving.scoring.compiled_trees.probe_rows``:
every split threshold, the floats next to it, missing, every category a split names) must
agree with LightGBM's to 1e-9 of the largest value; the order of floating-point operations
differs, so bit equality is not the test. Otherwise, or without a compiler, LightGBM explains
and the log says why.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from serving.scoring.c_libraries import declared, installed_or_none
from serving.scoring.compiled_trees import probe_rows
from training.model import LeadConversionModel

log = logging.getLogger(__name__)
Contributions = Callable[[np.ndarray], np.ndarray]
PROBE_ROWS = 300
TOLERANCE = 1e-9
_SOURCE = Path(__file__).with_name("tree_shap.c")
_CATEGORICAL, _DEFAULT_LEFT, _MISSING_ZERO, _MISSING_NAN = 1, 2, 4, 8
_MAX_POINTS = 64  # as tree_shap.c: trees up to depth 126


def tree_contributions(
    model: LeadConversionModel, cache_dir: Path | None
) -> tuple[Contributions, str]:
    """``model.contribution_matrix`` (SHAP values, bias last) computed by ``tree_shap.c``
    where it proves equal, else LightGBM's; and which one it is ("compiled" or "lightgbm").
    ``cache_dir`` None: LightGBM, not tried."""
    library = installed_or_none(_SOURCE, cache_dir is not None, _LOAD, "LightGBM explains")
    if library is None:
        return model.contribution_matrix, "lightgbm"
    trees = FlatTrees.of(model.booster_.dump_model(num_iteration=model.best_iteration_))
    n_features = model.booster_.num_feature()
    probe = probe_rows(model.booster_, PROBE_ROWS)
    expected = model.contribution_matrix(probe)
    bias = float(expected[0, -1])  # the trees' expected value, the same for every row

    def contributions(matrix: np.ndarray) -> np.ndarray:
        out = np.zeros((len(matrix), n_features + 1))
        out[:, :-1] = trees.shap(library, matrix)
        out[:, -1] = bias
        return out

    difference = float(np.max(np.abs(contributions(probe) - expected)))
    if not difference <= TOLERANCE * max(1.0, float(np.max(np.abs(expected)))):
        log.warning(
            "compiled TreeSHAP is %.3g off LightGBM's on probe rows: LightGBM explains", difference
        )
        return model.contribution_matrix, "lightgbm"
    return contributions, "compiled"


@dataclass(frozen=True)
class FlatTrees:
    """A model's trees as the arrays ``tree_shap.c`` walks: one entry per node of every tree,
    children by index; per tree its root and its quadrature points (depth // 2 + 1 of them)."""

    roots: np.ndarray
    tree_points: np.ndarray
    point_at: np.ndarray
    t: np.ndarray
    w: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    flags: np.ndarray
    left: np.ndarray
    right: np.ndarray
    count: np.ndarray
    value: np.ndarray
    cat_start: np.ndarray
    cat_words: np.ndarray
    cat_bits: np.ndarray

    @classmethod
    def of(cls, dump: dict[str, Any]) -> FlatTrees:
        """From ``Booster.dump_model()`` (its thresholds round-trip to the bit)."""
        nodes: dict[str, list] = {
            name: []
            for name in (
                "feature", "threshold", "flags", "left", "right", "count", "value",
                "cat_start", "cat_words",
            )
        }  # fmt: skip
        cat_bits: list[int] = []
        roots, tree_points, point_at, t, w = [], [], [], [], []

        def add(node: dict[str, Any]) -> tuple[int, int]:
            """(index, depth below) of ``node``, its subtree added after it."""
            index = len(nodes["feature"])
            for column in nodes.values():
                column.append(0)
            if "split_feature" not in node:
                nodes["feature"][index] = -1
                nodes["value"][index] = float(node["leaf_value"])
                nodes["count"][index] = float(node.get("leaf_count", 0))
                return index, 0
            nodes["feature"][index] = int(node["split_feature"])
            nodes["count"][index] = float(node["internal_count"])
            flags = _DEFAULT_LEFT if node["default_left"] else 0
            flags |= {"None": 0, "Zero": _MISSING_ZERO, "NaN": _MISSING_NAN}[node["missing_type"]]
            if node["decision_type"] == "==":
                flags |= _CATEGORICAL
                codes = [int(code) for code in str(node["threshold"]).split("||")]
                words = np.zeros(max(codes) // 32 + 1, dtype=np.uint64)
                for code in codes:
                    words[code // 32] |= np.uint64(1) << np.uint64(code % 32)
                nodes["cat_start"][index] = len(cat_bits)
                nodes["cat_words"][index] = len(words)
                cat_bits.extend(int(word) for word in words)
            elif node["decision_type"] == "<=":
                nodes["threshold"][index] = _threshold(float(node["threshold"]))
            else:
                raise ValueError(f"unknown decision type {node['decision_type']!r}")
            nodes["flags"][index] = flags
            left, left_depth = add(node["left_child"])
            right, right_depth = add(node["right_child"])
            nodes["left"][index], nodes["right"][index] = left, right
            return index, 1 + max(left_depth, right_depth)

        for tree in dump["tree_info"]:
            root, depth = add(tree["tree_structure"])
            points = depth // 2 + 1  # exact for the integrand's degree, below depth
            if points > _MAX_POINTS:
                raise ValueError(f"a tree of depth {depth} is too deep for tree_shap.c")
            x, weights = np.polynomial.legendre.leggauss(points)
            roots.append(root)
            tree_points.append(points)
            point_at.append(len(t))
            t.extend((x + 1) / 2)
            w.extend(weights / 2)
        ints = {"feature", "flags", "left", "right", "cat_start", "cat_words"}
        return cls(
            roots=np.array(roots, dtype=np.int32),
            tree_points=np.array(tree_points, dtype=np.int32),
            point_at=np.array(point_at, dtype=np.int32),
            t=np.array(t, dtype=np.float64),
            w=np.array(w, dtype=np.float64),
            cat_bits=np.array(cat_bits or [0], dtype=np.uint32),
            **{
                name: np.array(values, dtype=np.int32 if name in ints else np.float64)
                for name, values in nodes.items()
            },
        )

    @cached_property
    def _width(self) -> int:
        """Columns the C code reads: up to the highest feature a split uses."""
        return int(self.feature.max(initial=-1)) + 1

    @cached_property
    def _pointers(self) -> tuple[ctypes.c_void_p, ...]:
        return tuple(_pointer(getattr(self, name)) for name in _ARRAYS)

    def shap(self, library: ctypes.CDLL, matrix: np.ndarray) -> np.ndarray:
        """SHAP values of each row of ``matrix`` (an encoded input matrix), no bias."""
        x = np.ascontiguousarray(matrix, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] < self._width:
            raise ValueError(f"a matrix of {self._width} or more columns is needed, got {x.shape}")
        out = np.zeros_like(x)
        status = library.tree_shap(
            len(x), x.shape[1], _pointer(x), len(self.roots), *self._pointers, _pointer(out)
        )
        if status != 0:
            raise MemoryError("tree_shap.c could not allocate its working memory")
        return out


def _threshold(dumped: float) -> float:
    """The split's threshold: ``dump_model`` writes an infinite one as +-1e300 (LightGBM's
    ``AvoidInf``), which values beyond 1e300 would then pass the other way."""
    if abs(dumped) >= 1e300:
        return float(np.copysign(np.inf, dumped))
    return dumped


_ARRAYS = (
    "roots", "tree_points", "point_at", "t", "w", "feature", "threshold", "flags", "left",
    "right", "count", "value", "cat_start", "cat_words", "cat_bits",
)  # fmt: skip
_LOAD = declared({
    "tree_shap": (
        ctypes.c_int, [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        + [ctypes.c_void_p] * (len(_ARRAYS) + 1),
    ),
})  # fmt: skip


def _pointer(array: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(array.ctypes.data)
