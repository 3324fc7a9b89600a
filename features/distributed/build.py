"""Both training sets from partitions of whole leads: ``features.build.build_training_set``
on each partition (the one feature definition), with the end of the data taken over all of
them, the rows set aside summed, and the manifests merged.

Written as partitioned Parquet (``{out}/{transition}/part.NNNNN.parquet``, one file per
partition, written by the task that built it, plus ``{transition}.manifest.json``), or
gathered into one frame in the order the local engine gives (by decision time, then lead).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.contract import TRANSITIONS
from core.errors import DataContractError
from core.paths import output_folder, writing
from features import definitions as d
from features.build import TrainingSet, build_training_set
from features.distributed.dataset import LeadPartitions, Tables, latest_event, validated
from features.distributed.run import Progress, run_partitions
from features.history import LeadHistory, SetAside

# Extra columns for a training set's rows, from the rows and their partition's history (the
# training room adds the hand-set points this way; features never import the rules).
Extra = Callable[[pd.DataFrame, LeadHistory], dict[str, np.ndarray]]


def data_end_on_cluster(client: Any, partitions: LeadPartitions, now: pd.Timestamp) -> pd.Timestamp:
    """The latest event time over every table (the default end of observation)."""
    latest = client.compute(latest_event(partitions.files, now)).result()
    if latest is None:
        raise DataContractError("leads", "created_at", "no readable event times in the data")
    return latest


def training_set_part(
    tables: Tables,
    index: int,
    *,
    horizon_days: int,
    data_end: pd.Timestamp,
    now: pd.Timestamp,
    out: Path | None = None,
    extra: Extra | None = None,
) -> dict[str, Any]:
    """One partition's rows of both training sets (or their part files under ``out``), with
    the counts the manifests need and the rows set aside."""
    history, set_aside = validated(tables, now)
    result: dict[str, Any] = {"set_aside": set_aside, "sets": {}}
    for transition in TRANSITIONS:
        if history is None:
            frame, censored, censored_converted = _empty_rows(), 0, 0
        else:
            built = build_training_set(
                history, transition, horizon_days=horizon_days, data_end=data_end
            )
            frame = built.frame
            censored = built.manifest["censored"]
            censored_converted = built.manifest["censored_already_converted"]
            if extra is not None and len(frame):
                points = pd.DataFrame(
                    {"lead_id": frame["lead_id"], "as_of": frame["decision_time"]}
                )
                frame = frame.assign(**extra(points, history))
        stats = {
            "rows": len(frame),
            "positives": int(frame["label"].sum()),
            "censored": censored,
            "censored_converted": censored_converted,
            "first": frame["decision_time"].min() if len(frame) else None,
            "last": frame["decision_time"].max() if len(frame) else None,
        }
        if out is not None and history is not None:  # a partition without leads: no file
            path = out / transition / f"part.{index:05d}.parquet"
            with writing(path):
                frame.to_parquet(path, index=False)
        if out is not None:
            frame = None
        result["sets"][transition] = {"stats": stats, "frame": frame}
    return result


def _empty_rows() -> pd.DataFrame:
    rows = pd.DataFrame(
        {
            "lead_id": pd.Series([], dtype="str"),
            "decision_time": pd.Series([], dtype="datetime64[ns]"),
            "label": pd.Series([], dtype=np.int8),
        }
    )
    empty = {f.name: pd.Series([], dtype=f.dtype) for f in d.FEATURES}
    return pd.concat([rows, pd.DataFrame(empty)], axis=1)


def merge_set_aside(lists: list[list[SetAside]]) -> list[SetAside]:
    """Rows set aside in every partition, summed per table and reason (first examples kept)."""
    merged: dict[tuple[str, str], SetAside] = {}
    for items in lists:
        for item in items:
            key = (item.table, item.reason)
            seen = merged.get(key)
            merged[key] = (
                item
                if seen is None
                else SetAside(
                    table=item.table,
                    reason=item.reason,
                    rows=seen.rows + item.rows,
                    examples=(seen.examples + item.examples)[:3],
                )
            )
    return list(merged.values())


def merged_manifest(
    transition: str,
    stats: list[dict],
    *,
    horizon_days: int,
    data_end: pd.Timestamp,
    set_aside: list[SetAside],
) -> dict:
    """The manifest ``build_training_set`` writes, from the partitions' counts."""
    rows = sum(s["rows"] for s in stats)
    positives = sum(s["positives"] for s in stats)
    firsts = [s["first"] for s in stats if s["first"] is not None]
    lasts = [s["last"] for s in stats if s["last"] is not None]
    return {
        "transition": transition,
        "rows": rows,
        "label_rate": round(positives / rows, 6) if rows else None,
        "positives": positives,
        "censored": sum(s["censored"] for s in stats),
        "censored_already_converted": sum(s["censored_converted"] for s in stats),
        "horizon_days": horizon_days,
        "data_end": str(data_end),
        "decision_time_range": [str(min(firsts)), str(max(lasts))] if rows else None,
        "features": [{"name": f.name, "kind": f.kind} for f in d.FEATURES],
        "set_aside": [{"table": s.table, "reason": s.reason, "rows": s.rows} for s in set_aside],
    }


def build_on_cluster(
    client: Any,
    partitions: LeadPartitions,
    *,
    horizon_days: int,
    data_end: pd.Timestamp | None = None,
    now: pd.Timestamp | None = None,
    out: Path | None = None,
    extra: Extra | None = None,
    progress: Progress | None = None,
) -> tuple[dict[str, TrainingSet], list[SetAside]]:
    """Both training sets built partition by partition on the cluster, and the rows set aside.

    With ``out`` each partition's rows are written there by its task and the sets come back
    with empty frames (their manifests are written beside the part folders); otherwise the rows
    come back and are ordered as the local engine orders them.
    """
    now = pd.Timestamp.now(tz="UTC").tz_localize(None) if now is None else pd.Timestamp(now)
    if data_end is None:
        data_end = data_end_on_cluster(client, partitions, now)
    data_end = pd.Timestamp(data_end)
    if out is not None:
        out = output_folder(out)
        for transition in TRANSITIONS:
            folder = output_folder(out / transition)
            for stale in folder.glob("part.*.parquet"):  # an earlier run's parts
                stale.unlink()
    results = run_partitions(
        client,
        partitions.parts,
        training_set_part,
        horizon_days=horizon_days,
        data_end=data_end,
        now=now,
        out=out,
        extra=extra,
        progress=progress,
        what="training sets",
    )
    set_aside = merge_set_aside([r["set_aside"] for r in results])
    sets = {}
    for transition in TRANSITIONS:
        own = [r["sets"][transition] for r in results]
        manifest = merged_manifest(
            transition,
            [o["stats"] for o in own],
            horizon_days=horizon_days,
            data_end=data_end,
            set_aside=set_aside,
        )
        if out is not None:
            frame = _empty_rows()
            path = out / f"{transition}.manifest.json"
            with writing(path):
                path.write_text(json.dumps(manifest, indent=2, default=str) + "\n", "utf-8")
        else:
            frames = [o["frame"] for o in own if len(o["frame"])] or [own[0]["frame"]]
            frame = pd.concat(frames, ignore_index=True)
            frame = frame.sort_values(["decision_time", "lead_id"], kind="stable")
            frame = frame.reset_index(drop=True)
        sets[transition] = TrainingSet(frame=frame, manifest=manifest)
    return sets, set_aside
