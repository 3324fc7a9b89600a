"""Apply the feature registry to decision points: the one entry that batch training and online
scoring share.

``build_features`` takes any frame of whole leads (all of a lead's rows from the three tables)
and returns one row of features per decision point. It holds no state and assumes no row
order, so on Dask it maps over partitions keyed by lead_id unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.internals import create_dataframe_from_blocks

from core.contract import as_ns
from core.progress import Progress, counted
from features import definitions as d
from features.decision_points import data_end_of, decision_points
from features.history import LeadHistory, SetAside
from features.window import VisibleHistory, visible_history, window_bucket


@dataclass(frozen=True)
class TrainingSet:
    """Attributes:
    frame: lead_id, decision_time, label, then the features in registry order.
    manifest: rows, label rate, censored count, feature names and kinds, time range, and the
        rows set aside while loading (so the training run can log them).
    """

    frame: pd.DataFrame
    manifest: dict


def build_features(points: pd.DataFrame, history: LeadHistory | VisibleHistory) -> pd.DataFrame:
    """Features of each decision point (``lead_id``, ``as_of``) from events before ``as_of``.

    Rows are aligned to ``points`` (same order, fresh RangeIndex); a lead missing from
    ``history.leads`` gets missing attributes rather than an error, as online scoring of a
    brand-new lead would. ``history`` may be a ``VisibleHistory`` already cut at ``points``
    (shared with ``training.rules.score_leads`` in one scoring pass).
    """
    visible = visible_history(points, history)
    return _frame(feature_columns(visible), visible.n)


def feature_columns(visible: VisibleHistory) -> d.Columns:
    """Every registry feature as an array aligned to the decision points of a cut history.

    The API scores from these arrays directly (``training.model.encoding.InputEncoding``); batch
    training wraps them in the feature frame. Same function, so the two cannot disagree.
    """
    n = visible.n
    touches = visible.touches
    bucket = window_bucket(touches.age_ns)
    columns: d.Columns = {}
    columns.update(d.attributes(visible.leads))
    columns.update(d.funnel(visible.as_of_ns, as_ns(visible.leads["created_at"]), visible.stages))
    counts = d.touch_counts(touches, bucket, n)
    columns.update(counts)
    columns.update(d.recency(touches, n))
    columns.update(d.page_time(touches, bucket, n))
    columns.update(d.engagement(counts))
    return columns


@dataclass(frozen=True)
class _Layout:
    """Where each registry feature goes in the feature frame, computed once.

    The frame is assembled from one 2-D block per numeric dtype plus one array per categorical
    (pandas' own layout), so building it costs the same for 1 row as a dict of 265 columns
    costs pandas to check and consolidate, and for a million rows no more than the copies.
    """

    columns: pd.Index
    categorical: tuple[tuple[str, np.ndarray], ...]
    numeric: tuple[tuple[np.dtype, tuple[str, ...], np.ndarray], ...]

    @classmethod
    def of(cls, features: tuple[d.Feature, ...]) -> _Layout:
        categorical = tuple(
            (f.name, np.array([i])) for i, f in enumerate(features) if f.kind == "categorical"
        )
        numeric = []
        for dtype in dict.fromkeys(f.dtype for f in features if f.kind != "categorical"):
            at = [i for i, f in enumerate(features) if f.kind != "categorical" and f.dtype == dtype]
            numeric.append((np.dtype(dtype), tuple(features[i].name for i in at), np.array(at)))
        return cls(pd.Index([f.name for f in features]), categorical, tuple(numeric))


_LAYOUT = _Layout.of(d.FEATURES)


def _frame(columns: d.Columns, n: int) -> pd.DataFrame:
    """The registry's columns, in order and in their declared dtypes, as one frame."""
    blocks = [(columns[name], at) for name, at in _LAYOUT.categorical]
    for dtype, names, at in _LAYOUT.numeric:
        block = np.empty((len(names), n), dtype=dtype)
        for j, name in enumerate(names):
            block[j] = columns[name]
        blocks.append((block, at))
    return create_dataframe_from_blocks(blocks, index=pd.RangeIndex(n), columns=_LAYOUT.columns)


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
    progress: Progress | None = None,
) -> dict[str, TrainingSet]:
    """Both transitions' training sets; ``data_end`` defaults to the latest event in the data.
    Progress: one counted step over the two transitions."""
    data_end = pd.Timestamp(data_end) if data_end is not None else data_end_of(history)
    report = [{"table": s.table, "reason": s.reason, "rows": s.rows} for s in set_aside]
    transitions = ("mql_to_sql", "sql_to_won")
    sets = {}
    with counted(progress, "building training sets", len(transitions), "sets") as step:
        for done, transition in enumerate(transitions):
            step(done, transition)
            training_set = build_training_set(
                history, transition, horizon_days=horizon_days, data_end=data_end
            )
            training_set.manifest["set_aside"] = report
            sets[transition] = training_set
        step(len(transitions))
    return sets
