"""Apply the feature registry to decision points: the one entry that batch training and online
scoring share.

``build_features`` takes any frame of whole leads (all of a lead's rows from the three tables)
and returns one row of features per decision point. It holds no state and assumes no row
order, so on Dask it maps over partitions keyed by lead_id unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import definitions as d
from features.decision_points import data_end_of, decision_points
from features.history import LeadHistory, SetAside
from features.window import events_before, window_bucket

_TOUCH_COLUMNS = ["channel", "action", "page_type", "duration_s"]


@dataclass(frozen=True)
class TrainingSet:
    """Attributes:
    frame: lead_id, decision_time, label, then the features in registry order.
    manifest: rows, label rate, censored count, feature names and kinds, time range, and the
        rows set aside while loading (so the training run can log them).
    """

    frame: pd.DataFrame
    manifest: dict


def build_features(points: pd.DataFrame, history: LeadHistory) -> pd.DataFrame:
    """Features of each decision point (``lead_id``, ``as_of``) from events before ``as_of``.

    Rows are aligned to ``points`` (same order, fresh RangeIndex); a lead missing from
    ``history.leads`` gets missing attributes rather than an error, as online scoring of a
    brand-new lead would.
    """
    n = len(points)
    as_of_ns = np.asarray(points["as_of"], dtype="datetime64[ns]").view(np.int64)
    leads = history.leads.set_index("lead_id")
    leads_aligned = leads.reindex(points["lead_id"].to_numpy())
    created_ns = leads_aligned["created_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)

    touches = events_before(points, history.touches, "occurred_at", _TOUCH_COLUMNS)
    bucket = window_bucket(touches["age_ns"].to_numpy())
    stages = events_before(points, history.stage_changes, "changed_at", ["stage"])

    columns: d.Columns = {}
    columns.update(d.attributes(leads_aligned))
    columns.update(d.funnel(as_of_ns, created_ns, stages))
    counts = d.touch_counts(touches, bucket, n)
    columns.update(counts)
    columns.update(d.recency(touches, n))
    columns.update(d.page_time(touches, bucket, n))
    columns.update(d.engagement(counts))
    return pd.DataFrame(
        {
            f.name: columns[f.name]
            if f.kind == "categorical"
            else np.asarray(columns[f.name], f.dtype)
            for f in d.FEATURES
        }
    )


def build_training_set(
    history: LeadHistory,
    transition: str,
    *,
    horizon_days: int,
    data_end: pd.Timestamp,
) -> TrainingSet:
    """The training set of one transition with its manifest."""
    points = decision_points(history, transition, horizon_days=horizon_days, data_end=data_end)
    rows = points.rows
    features = build_features(rows, history)
    frame = pd.concat(
        [
            rows[["lead_id"]],
            rows["as_of"].rename("decision_time"),
            rows["label"],
            features,
        ],
        axis=1,
    )
    manifest = {
        "transition": transition,
        "rows": len(frame),
        "label_rate": round(float(rows["label"].mean()), 6) if len(rows) else None,
        "positives": int(rows["label"].sum()),
        "censored": points.censored,
        "censored_already_converted": points.censored_converted,
        "horizon_days": horizon_days,
        "data_end": str(data_end),
        "decision_time_range": [str(rows["as_of"].min()), str(rows["as_of"].max())]
        if len(rows)
        else None,
        "features": [{"name": f.name, "kind": f.kind} for f in d.FEATURES],
    }
    return TrainingSet(frame=frame, manifest=manifest)


def build_training_sets(
    history: LeadHistory,
    *,
    horizon_days: int,
    data_end: pd.Timestamp | None = None,
    set_aside: Iterable[SetAside] = (),
    progress: Callable[[str], None] | None = None,
) -> dict[str, TrainingSet]:
    """Both transitions' training sets; ``data_end`` defaults to the latest event in the data."""
    data_end = pd.Timestamp(data_end) if data_end is not None else data_end_of(history)
    report = [{"table": s.table, "reason": s.reason, "rows": s.rows} for s in set_aside]
    sets = {}
    for transition in ("mql_to_sql", "sql_to_won"):
        if progress:
            progress(f"building {transition} training set...")
        training_set = build_training_set(
            history, transition, horizon_days=horizon_days, data_end=data_end
        )
        training_set.manifest["set_aside"] = report
        sets[transition] = training_set
    return sets
