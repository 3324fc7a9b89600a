"""Batch scoring of a lead set with the champions: every lead at one ``as_of``, both
transitions' calibrated probabilities and the hand-set score, as Parquet.

``score_history`` is the one scoring of a history; the local engine applies it to the whole
history, the Dask engine to each partition of whole leads (a lead's score depends on its own
events only), each task writing its own part file.

A transition without a champion (``unserved``) keeps its column, empty, and the leads that
need it (``needing_of``: those at SQL for SQL -> won, as the API counts them) are counted for the
command line to report: nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.contract import STAGE_RANK, TRANSITIONS, active_transitions
from core.paths import output_folder, writing
from features.build import build_features
from features.distributed.build import merge_set_aside
from features.distributed.dataset import LeadPartitions, Tables, validated
from features.distributed.run import run_partitions
from features.history import LeadHistory, SetAside
from training.bundle import ScoringBundle
from training.model.prior import HAND_SET_POINTS
from training.rules import score_leads

Progress = Callable[[str], None]


def needing_of(
    history: LeadHistory, as_of: pd.Timestamp, transitions: Sequence[str]
) -> dict[str, int]:
    """How many leads of ``history`` need each of ``transitions`` at ``as_of``: those whose
    active transition it is, as the API decides (SQL to won at SQL; MQL to SQL before SQL; won
    and lost leads need none), from the stage changes strictly before ``as_of``."""
    if not transitions:
        return {}
    changes = history.stage_changes
    seen = changes[changes["changed_at"] < pd.Timestamp(as_of)]
    stage = seen["stage"].astype(str)
    lost = history.leads["lead_id"].isin(seen.loc[stage == "lost", "lead_id"]).to_numpy()
    kept = stage != "lost"
    ranks = stage[kept].map(STAGE_RANK).groupby(seen.loc[kept, "lead_id"].to_numpy()).max()
    reached = history.leads["lead_id"].map(ranks).fillna(0).to_numpy()
    active = active_transitions(reached, lost)
    return {transition: int(np.sum(active[transition])) for transition in transitions}


def score_history(
    history: LeadHistory,
    bundles: Mapping[str, ScoringBundle],
    as_of: pd.Timestamp,
    unserved: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per lead of ``history``: ``lead_id``, ``as_of``, ``probability_<transition>``
    per bundle (empty for each of ``unserved``, the transitions without a champion), and the
    first bundle's ``hand_set_points`` and ``passes_threshold``. The features are built once
    and shared by the bundles (as ``ScoringBundle.score`` builds them)."""
    points = pd.DataFrame(
        {"lead_id": history.leads["lead_id"].to_numpy(), "as_of": pd.Timestamp(as_of)}
    )
    points["as_of"] = points["as_of"].astype("datetime64[ns]")
    features = build_features(points, history)
    out = points.copy()
    rules_of: list[tuple[object, Any]] = []
    for transition, bundle in bundles.items():
        scores = next((s for r, s in rules_of if r == bundle.rules), None)
        if scores is None:
            scores = score_leads(bundle.rules, points, history)
            rules_of.append((bundle.rules, scores))
        own = features.assign(**{HAND_SET_POINTS: scores.total.to_numpy()})
        out[f"probability_{transition}"] = bundle.score_features(own)
    for transition in unserved:
        out[f"probability_{transition}"] = np.nan
    columns = [f"probability_{t}" for t in TRANSITIONS if f"probability_{t}" in out]
    out = out[["lead_id", "as_of", *columns]]
    first = rules_of[0][1]
    out["hand_set_points"] = first.total.to_numpy()
    out["passes_threshold"] = first.passes_threshold.to_numpy()
    return out


def _part_path(out: Path, index: int) -> Path:
    return out / f"part.{index:05d}.parquet"


def write_scores(scores: pd.DataFrame, out: Path, index: int = 0) -> Path:
    path = _part_path(out, index)
    with writing(path):
        scores.to_parquet(path, index=False)
    return path


def _score_part(
    tables: Tables,
    index: int,
    bundles: Mapping[str, ScoringBundle],
    as_of: pd.Timestamp,
    now: pd.Timestamp,
    out: Path,
    unserved: Sequence[str],
) -> dict:
    history, set_aside = validated(tables, now)
    rows, counts = 0, dict.fromkeys(unserved, 0)
    if history is not None:
        scores = score_history(history, bundles, as_of, unserved)
        write_scores(scores, out, index)
        rows = len(scores)
        counts = needing_of(history, as_of, unserved)
    return {"rows": rows, "set_aside": set_aside, "needing": counts}


def clear_parts(out: Path) -> Path:
    """``out`` ready for a run's part files: made if missing, an earlier run's parts removed."""
    out = output_folder(out)
    for stale in out.glob("part.*.parquet"):
        stale.unlink()
    return out


def score_on_cluster(
    client: Any,
    partitions: LeadPartitions,
    bundles: Mapping[str, ScoringBundle],
    *,
    as_of: pd.Timestamp,
    out: Path,
    now: pd.Timestamp,
    progress: Progress | None = None,
    unserved: Sequence[str] = (),
) -> tuple[int, list[SetAside], dict[str, int]]:
    """Score every partition into ``out/part.NNNNN.parquet``; (leads scored, rows set aside,
    the leads that need each of ``unserved``: ``needing_of``)."""
    out = clear_parts(out)
    [shared] = client.scatter([dict(bundles)], broadcast=True)  # once per worker, not per task
    results = run_partitions(
        client,
        partitions.parts,
        _score_part,
        shared,
        as_of,
        now,
        out,
        tuple(unserved),
        progress=progress,
        what="scoring",
    )
    counts = {t: sum(r["needing"][t] for r in results) for t in unserved}
    rows = sum(r["rows"] for r in results)
    return rows, merge_set_aside([r["set_aside"] for r in results]), counts
