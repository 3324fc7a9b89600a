"""Where the trees grow: LightGBM in this process, unless a block of code hands the boosting to
another trainer (the Dask engine's, ``training.distributed.boosting``).

The estimator describes one boosting job (its inputs already prepared, the parameters, the
rounds and the early stopping) and gets a booster back; everything around it (the rules prior,
the fewest trees, calibration, selection) stays the estimator's, whichever trainer grew them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd


def threads_for(rows: int, n_jobs: int | None = None) -> int:
    """Threads for LightGBM: one below ~100k rows, where thread overhead outweighs the gain (4x
    slower with two threads on a busy 2-core machine, measured), else all cores; ``n_jobs``
    when set."""
    if n_jobs is not None:
        return n_jobs
    return 1 if rows < 100_000 else max(1, os.cpu_count() or 1)


def binary_params(estimator: Any, rows: int) -> dict[str, Any]:
    """LightGBM parameters of a binary model grown from ``estimator``'s hyperparameters
    (``learning_rate``, ``num_leaves``, ``min_child_samples``, ``feature_fraction``,
    ``lambda_l2``, ``random_state``, optional ``n_jobs``) on ``rows`` rows: deterministic, so a
    seed gives the same trees, and quiet. One place, so the classifier and the timing model
    cannot drift apart."""
    return {
        "objective": "binary",
        "learning_rate": estimator.learning_rate,
        "num_leaves": estimator.num_leaves,
        "min_child_samples": estimator.min_child_samples,
        "feature_fraction": estimator.feature_fraction,
        "lambda_l2": estimator.lambda_l2,
        "seed": estimator.random_state,
        "deterministic": True,
        "num_threads": threads_for(rows, getattr(estimator, "n_jobs", None)),
        "verbosity": -1,
    }


@dataclass(frozen=True)
class BoostJob:
    """Attributes:
    params: LightGBM parameters (objective, learning rate, seed, threads, ...).
    X, y: the prepared training rows and their 0/1 labels; init_score: their starting
        log-odds (the rules prior), or None.
    X_val, y_val, val_init_score: the same for the validation rows; None: no early stopping.
    rounds: most trees; early_stopping_rounds: stop after this many without a better
        validation log loss (the booster's ``best_iteration`` is then the best one).
    on_round: called with the number of rounds grown so far (progress), or None.
    """

    params: dict
    X: pd.DataFrame
    y: np.ndarray
    init_score: np.ndarray | None
    X_val: pd.DataFrame | None
    y_val: np.ndarray | None
    val_init_score: np.ndarray | None
    rounds: int
    early_stopping_rounds: int
    on_round: Callable[[int], object] | None = None


Trainer = Callable[[BoostJob], lgb.Booster]
_TRAINER: ContextVar[Trainer | None] = ContextVar("booster_trainer", default=None)


def boost(job: BoostJob) -> lgb.Booster:
    """The booster of ``job``, grown by the trainer of the current block (``boosted_by``) or
    by LightGBM here."""
    trainer = _TRAINER.get()
    return trainer(job) if trainer is not None else boost_here(job)


def boost_here(job: BoostJob) -> lgb.Booster:
    """LightGBM in this process, early-stopped on the validation rows when there are some."""
    train_data = lgb.Dataset(job.X, job.y, init_score=job.init_score, free_raw_data=True)
    callbacks = []
    valid_sets = []
    if job.X_val is not None:
        valid_sets = [
            lgb.Dataset(job.X_val, job.y_val, init_score=job.val_init_score, reference=train_data)
        ]
        callbacks.append(lgb.early_stopping(job.early_stopping_rounds, verbose=False))
    if job.on_round is not None:
        on_round = job.on_round
        callbacks.append(lambda env: on_round(env.iteration + 1))
    return lgb.train(
        job.params,
        train_data,
        num_boost_round=job.rounds,
        valid_sets=valid_sets,
        callbacks=callbacks,
    )


@contextmanager
def boosted_by(trainer: Trainer) -> Iterator[None]:
    """Every model fitted inside the block grows its trees with ``trainer``."""
    token = _TRAINER.set(trainer)
    try:
        yield
    finally:
        _TRAINER.reset(token)
