"""Trees grown by ``lightgbm.dask.DaskLGBMClassifier`` on the cluster's workers, for
``training.model.boosting.boosted_by``: the estimator hands over one boosting job and gets an
ordinary ``lightgbm.Booster`` back, so the model it makes is the one serving loads.

Early stopping: lightgbm.dask hands each worker its own share of an ``eval_set``, and each
worker would judge the validation rows it holds, so the workers could stop at different rounds.
Instead every worker gets all validation rows in a callback that scores them after each round
(one tree at a time, from the rules prior's log-odds) and stops at the same round on every
worker: as LightGBM's ``early_stopping`` callback does in one process, on the same log loss.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.model.boosting import BoostJob, Trainer

_EPS = 1e-15
_LOG = logging.getLogger("lightgbm")
lgb.register_logger(_LOG)  # lightgbm.dask reports its set-up by print(); to logging instead


class _StopOnValidation:
    """A LightGBM callback: validation log loss after every round; stop ``patience`` rounds
    after the best (LightGBM's rule: a round counts as better only when strictly lower)."""

    order = 30  # after LightGBM's own callbacks

    def __init__(self, X: pd.DataFrame, y: np.ndarray, init: np.ndarray | None, patience: int):
        self.X, self.y, self.patience = X, np.asarray(y, dtype=np.float64), patience
        self.margin = np.zeros(len(y)) if init is None else np.asarray(init, dtype=np.float64)
        self.best, self.best_loss = -1, np.inf

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        k = env.iteration - env.begin_iteration
        self.margin = self.margin + env.model.predict(
            self.X, start_iteration=k, num_iteration=1, raw_score=True
        )
        p = np.clip(1.0 / (1.0 + np.exp(-self.margin)), _EPS, 1 - _EPS)
        loss = float(-np.mean(self.y * np.log(p) + (1 - self.y) * np.log(1 - p)))
        if loss < self.best_loss:
            self.best, self.best_loss = k, loss
        last = env.iteration == env.end_iteration - 1
        if k - self.best >= self.patience or last:
            raise lgb.callback.EarlyStopException(
                self.best, [("valid_0", "binary_logloss", self.best_loss, False)]
            )


def dask_trainer(client: Any, partitions: int | None = None) -> Trainer:
    """A trainer growing each job's trees with ``DaskLGBMClassifier`` on ``client``'s workers,
    the training rows cut into ``partitions`` (default: one per worker)."""

    def train(job: BoostJob) -> lgb.Booster:
        import dask.dataframe as dd
        from lightgbm.dask import DaskLGBMClassifier

        n = partitions or max(1, len(client.scheduler_info()["workers"]))
        X = dd.from_pandas(job.X.reset_index(drop=True), npartitions=n, sort=False)
        y = dd.from_pandas(pd.Series(job.y), npartitions=n, sort=False)
        init = None
        if job.init_score is not None:
            init = dd.from_pandas(pd.Series(job.init_score), npartitions=n, sort=False)
        params = {k: v for k, v in job.params.items() if k not in ("num_threads", "objective")}
        callbacks = []
        if job.X_val is not None:
            callbacks.append(
                _StopOnValidation(
                    job.X_val, job.y_val, job.val_init_score, job.early_stopping_rounds
                )
            )
        model = DaskLGBMClassifier(client=client, n_estimators=job.rounds, **params)
        with warnings.catch_warnings():  # n_jobs: the workers' own threads are used, as meant
            warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
            model.fit(X, y, init_score=init, callbacks=callbacks or None)
        booster = model.to_local().booster_
        if job.X_val is not None:
            booster.best_iteration = model.best_iteration_ or booster.current_iteration()
        return booster

    return train
