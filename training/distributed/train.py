"""``leadscore train`` on the Dask engine: both training sets built on the partitions of whole
leads with each row's hand-set points, then ``training.run.train_transition`` as on the local
engine (split, selection, calibration, evaluation, MLflow, registry, gate) with its trees grown
by ``lightgbm.dask`` on the workers.

What comes to this process: the training rows (one per decision point, not the events) and the
history of the few test leads that become the MLflow model's input example.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from features.distributed.build import build_on_cluster
from features.distributed.dataset import LeadPartitions, validated
from features.distributed.run import run_partitions
from features.history import LeadHistory
from features.validate import validate_history
from training.distributed.boosting import dask_trainer
from training.model.boosting import boosted_by
from training.model.prior import HAND_SET_POINTS
from training.rules import HandSetRules, score_leads
from training.run import PASSES_THRESHOLD, TransitionResult, train_transition
from training.split import SkippedTransition, split_for_training, trainable_sets

Progress = Callable[[str], None]
EXAMPLE_LEADS = 2  # test leads per transition in the MLflow model's input example


def hand_set_columns(
    rules: HandSetRules, points: pd.DataFrame, history: LeadHistory
) -> dict[str, np.ndarray]:
    """The rows' hand-set points and threshold decision (the prior's input and the baseline),
    computed where the rows' history is."""
    scores = score_leads(rules, points, history)
    return {
        HAND_SET_POINTS: scores.total.to_numpy(),
        PASSES_THRESHOLD: scores.passes_threshold.to_numpy(),
    }


def _leads_of(tables: dict, index: int, lead_ids: frozenset, now: pd.Timestamp) -> dict:
    """The raw rows of ``lead_ids`` in one partition (for the input example)."""
    del index, now
    return {
        name: frame[frame["lead_id"].astype("str").isin(lead_ids)] for name, frame in tables.items()
    }


def example_history(
    client: Any, partitions: LeadPartitions, lead_ids: list, now: pd.Timestamp
) -> LeadHistory:
    """The validated history of a few leads, gathered from the partitions that hold them."""
    wanted = frozenset(str(i) for i in lead_ids)
    pieces = run_partitions(client, partitions.parts, _leads_of, wanted, now)
    tables = {name: pd.concat([p[name] for p in pieces], ignore_index=True) for name in pieces[0]}
    history, _ = validated(tables, now)
    if history is None:  # the leads were validated before; cannot happen unless data changed
        history, _ = validate_history(tables["leads"], tables["touches"], tables["stage_changes"])
    return history


def train_on_cluster(
    client: Any,
    partitions: LeadPartitions,
    rules: HandSetRules,
    *,
    horizon_days: int,
    min_positives: int,
    progress: Progress | None = None,
    connect_tracking: Callable[[], None] = lambda: None,
    **run: Any,
) -> tuple[list[TransitionResult], list[SkippedTransition]]:
    """Both transitions trained from ``partitions`` (``run``: the keywords of
    ``train_transition`` after ``rules``, as the local command passes them);
    ``connect_tracking`` is called once the training sets passed their checks. A transition
    whose rows cannot give even the floor is skipped, said on ``progress`` and returned as a
    ``SkippedTransition`` (``training.split.trainable_sets``), as on the local engine."""
    say = progress or (lambda _: None)
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    sets, set_aside = build_on_cluster(
        client,
        partitions,
        horizon_days=horizon_days,
        now=now,
        extra=partial(hand_set_columns, rules),
        progress=progress,
    )
    for item in set_aside:
        say(item.describe())
    sets, skipped = trainable_sets(sets, min_positives)
    for left_out in skipped:
        say(f"[{left_out.transition}] skipped, not trained: {left_out.reason}")
    splits = {name: split_for_training(s, min_positives) for name, s in sets.items()}
    ids = pd.concat([split.test["lead_id"].head(EXAMPLE_LEADS) for split in splits.values()])
    examples = example_history(client, partitions, ids.unique().tolist(), now)
    connect_tracking()  # only now: a history too small fails before the store says anything
    with boosted_by(dask_trainer(client)):
        results = [
            train_transition(
                training_set,
                examples,
                rules,
                min_positives=min_positives,
                progress=progress,
                **run,
            )
            for training_set in sets.values()
        ]
    return results, skipped
