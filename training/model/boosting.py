"""Where the trees grow: LightGBM in this process, unless a block of code hands the boosting to
another trainer (the Dask engine's, ``training.distributed.boosting``).

The estimator describes one boosting job (its inputs already prepared, the parameters, the
rounds and the early stopping) and gets a booster back; everything around it (the rules prior,
the fewest trees, calibration, selection) stays the estimator's, whichever trainer grew them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd


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
