"""A model's trees as machine code, built where the model is trained and shipped inside it.

LightGBM predicts by copying each row into a sparse vector and walking every tree node by node;
tl2cgen writes the trees out as C (one comparison per split) and the C compiler builds a shared
library of them: the demo's 76-tree MQL -> SQL model predicts 1,000 rows in 2.6 ms instead of
7.1 ms. The library is per model, so it cannot be built at install time: it is built here, once,
when the model is trained (where a compiler is), and travels in the model's bundle
(``ScoringBundle.compiled_trees``). The API only loads it, after checking it predicts as
LightGBM does (``serving.scoring.compiled_trees``): a serving host needs no compiler. No
compiler or a failed build here means no library, and LightGBM predicts there.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from contextlib import redirect_stdout
from pathlib import Path

import lightgbm as lgb

from training.model import LeadConversionModel

__all__ = ["COMPILERS", "compile_trees", "served_trees", "trees_library"]

COMPILERS = ("gcc", "clang", "cc")


def served_trees(model: LeadConversionModel) -> str:
    """The trees ``model.raw_probability`` uses (its best iteration), as LightGBM's text."""
    return model.booster_.model_to_string(num_iteration=model.best_iteration_)


def compile_trees(text: str, compiler: str) -> bytes:
    """The shared library of the trees in ``text`` (a LightGBM model), built with
    ``compiler``."""
    import tl2cgen  # imported here: scoring never needs it to build
    import treelite

    booster = lgb.Booster(model_str=text)
    chatter = io.StringIO()  # tl2cgen prints its log lines: stdout is for a command's results
    with tempfile.TemporaryDirectory() as folder, redirect_stdout(chatter):
        library = Path(folder) / "trees.so"
        tl2cgen.export_lib(
            treelite.frontend.from_lightgbm(booster),
            toolchain=compiler,
            libpath=str(library),
            params={"parallel_comp": max(1, min(booster.num_trees(), os.cpu_count() or 1))},
            nthread=os.cpu_count() or 1,
        )
        return library.read_bytes()


def trees_library(model: LeadConversionModel) -> tuple[bytes | None, str]:
    """(the library of the model's served trees, or None; what happened, in words): None
    for a model without trees (the rules alone), without a C compiler on the PATH, or when
    the build fails, so LightGBM predicts wherever the model serves."""
    if model.booster_ is None:
        return None, "no trees to compile (your rules alone)"
    compiler = next((c for c in COMPILERS if shutil.which(c)), None)
    if compiler is None:
        return None, f"no C compiler ({', '.join(COMPILERS)}) on the PATH: LightGBM predicts"
    try:
        library = compile_trees(served_trees(model), compiler)
    except Exception as error:  # tl2cgen or the compiler failing: LightGBM predicts
        return None, f"compiling the trees failed ({error}): LightGBM predicts"
    return library, f"{model.best_iteration_} trees compiled with {compiler}"
