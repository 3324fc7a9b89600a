"""Scores one or many leads with the loaded models: pure over that state.

One pass for any number of leads, through the training code: ``features.online`` turns the
requests into lead history, ``features.build.build_features`` computes the features,
``training.rules.score_leads`` the hand-set points, and each transition's calibrated model the
probability. Rows get surrogate ids (their position) for the pass, so two requests for the same
CRM lead, in a batch or coalesced from concurrent calls, never mix their histories.

Stage semantics (the stage is the latest one entered strictly before ``as_of``):

===========  =================  =================
stage        mql_to_sql         sql_to_won
===========  =================  =================
lead / none  hypothetical       not_reached
mql, sal     open               hypothetical
sql          converted          open
won          converted          converted
lost         lost (or converted if SQL was reached)  lost
===========  =================  =================

``open``: the chance of reaching the target from here; ``hypothetical``: the chance if the lead
entered the transition's entry stage at ``as_of`` (the models are trained at that moment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.build import build_features
from features.contract import STAGE_RANK, STAGES, TIME_COLUMN
from features.definitions import FEATURE_NAMES
from features.online import lead_histories_of
from features.window import events_before
from training.model import LeadConversionModel
from training.rules import score_leads

if TYPE_CHECKING:
    from serving.loading import Models, ServedModel
    from serving.schemas import ScoreRequest

TRANSITIONS = ("mql_to_sql", "sql_to_won")
# priority: the active transition's probability against that transition's base rate
HOT_LIFT, WARM_LIFT = 2.0, 1.0
_RANK_OF_CODE = np.array([STAGE_RANK[s] for s in STAGES])
_LOST_CODE = STAGES.index("lost")
_STAGE_OF_RANK = {0: "lead", 1: "mql", 2: "sal", 3: "sql", 4: "won"}
_NOTES = {
    ("mql_to_sql", "open"): "Chance that this MQL becomes SQL within the model's horizon.",
    ("mql_to_sql", "hypothetical"): "Not MQL yet: the chance of becoming SQL if it became MQL now.",
    ("mql_to_sql", "converted"): "Already reached SQL.",
    ("mql_to_sql", "lost"): "The lead was lost before SQL.",
    ("sql_to_won", "open"): "Chance that this SQL is won within the model's horizon.",
    ("sql_to_won", "hypothetical"): "Not SQL yet: the chance of being won if it became SQL now.",
    ("sql_to_won", "converted"): "Already won.",
    ("sql_to_won", "lost"): "The lead was lost.",
    ("sql_to_won", "not_reached"): "Not MQL yet: too early for the SQL-to-won model.",
}


@dataclass(frozen=True)
class ModelInputs:
    """The booster's input matrix of a feature frame, without per-column pandas work.

    Numbers become float64 and a categorical its position among the training levels, with
    unseen or missing values as NaN: exactly what ``LeadConversionModel._prepare`` plus
    LightGBM's pandas conversion produce (a test pins the equality), at a fraction of the cost.

    Attributes:
        names: the model's inputs in order (``feature_names_in_``).
        numeric: numeric input names, and ``numeric_at`` their positions in ``names``.
        levels: per categorical input, its training levels as an index.
        level_at: per categorical input, its position in ``names``.
    """

    names: tuple[str, ...]
    numeric: list[str]
    numeric_at: np.ndarray
    levels: dict[str, pd.Index]
    level_at: dict[str, int]
    frame_columns: pd.Index
    numeric_in_frame: np.ndarray

    @classmethod
    def of(cls, model: LeadConversionModel) -> ModelInputs:
        names = tuple(str(n) for n in model.feature_names_in_)
        levels = {
            n: pd.Index(model.categorical_levels_[n], dtype=object)
            for n in names
            if n in model.categorical_levels_
        }
        numeric = [n for n in names if n not in levels]
        return cls(
            names=names,
            numeric=numeric,
            numeric_at=np.array([names.index(n) for n in numeric], dtype=np.intp),
            levels=levels,
            level_at={n: names.index(n) for n in levels},
            frame_columns=pd.Index(FEATURE_NAMES),
            numeric_in_frame=pd.Index(FEATURE_NAMES).get_indexer(numeric),
        )

    def matrix(self, features: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(features), len(self.names)), dtype=np.float64)
        # build_features returns the registry's columns in order: select by position, which
        # saves pandas a label lookup of every column on each pass
        if features.columns.equals(self.frame_columns) and (self.numeric_in_frame >= 0).all():
            numbers = features.iloc[:, self.numeric_in_frame]
        else:
            numbers = features[self.numeric]
        out[:, self.numeric_at] = numbers.to_numpy(np.float64, na_value=np.nan)
        for name, levels in self.levels.items():
            codes = levels.get_indexer(features[name].to_numpy(object)).astype(np.float64)
            codes[codes < 0] = np.nan
            out[:, self.level_at[name]] = codes
        return out


def probability(model: LeadConversionModel, matrix: np.ndarray) -> np.ndarray:
    """Calibrated probabilities, as ``model.predict_proba(features)[:, 1]``."""
    p = model.booster_.predict(matrix, num_iteration=model.best_iteration_, num_threads=1)
    return model.calibrator_.predict(p) if model.calibrator_ is not None else p


def contributions(model: LeadConversionModel, matrix: np.ndarray) -> np.ndarray:
    """SHAP values on the log-odds, one column per input plus the bias last."""
    return model.booster_.predict(
        matrix, num_iteration=model.best_iteration_, pred_contrib=True, num_threads=1
    )


def _stages(points: pd.DataFrame, history: Any) -> tuple[np.ndarray, np.ndarray]:
    """Highest stage rank reached (lost aside) and whether the lead was lost, before as_of."""
    visible = events_before(points, history.stage_changes, TIME_COLUMN["stage_changes"], ["stage"])
    rows = visible["row"].to_numpy()
    codes = visible["stage"].cat.codes.to_numpy()
    is_lost = codes == _LOST_CODE
    reached = np.zeros(len(points), dtype=np.int64)
    np.maximum.at(reached, rows[~is_lost], _RANK_OF_CODE[codes[~is_lost]])
    lost = np.zeros(len(points), dtype=bool)
    lost[rows[is_lost]] = True
    return reached, lost


def transition_status(transition: str, reached: int, lost: bool) -> str:
    """The per-stage semantics of the module docstring for one lead."""
    if transition == "mql_to_sql":
        if reached >= STAGE_RANK["sql"]:
            return "converted"
        if lost:
            return "lost"
        return "open" if reached >= STAGE_RANK["mql"] else "hypothetical"
    if reached >= STAGE_RANK["won"]:
        return "converted"
    if lost:
        return "lost"
    if reached == STAGE_RANK["sql"]:
        return "open"
    return "hypothetical" if reached >= STAGE_RANK["mql"] else "not_reached"


def priority(p: float | None, base_rate: float | None) -> str:
    """hot / warm / cold by the probability's lift over the transition's base rate."""
    if p is None:
        return "closed"
    base = base_rate if base_rate and base_rate > 0 else 0.5
    return "hot" if p >= HOT_LIFT * base else "warm" if p >= WARM_LIFT * base else "cold"


def score_requests(
    models: Models,
    requests: Sequence[ScoreRequest],
    *,
    now: datetime,
    reasons: Sequence[bool],
    top: int,
) -> list[dict]:
    """One response dict (``ScoreOut`` shape) per request, in order; ``now`` fills a missing
    ``as_of``; ``reasons[i]`` says whether lead ``i`` gets its reasons."""
    payloads = []
    for i, request in enumerate(requests):
        payload = request.model_dump()
        payload["lead"]["lead_id"] = i  # surrogate: position in this pass
        payload["as_of"] = payload["as_of"] or now
        payloads.append(payload)
    history, points = lead_histories_of(payloads)
    features = build_features(points, history)
    rules = score_leads(models.rules, points, history)
    reached, lost = _stages(points, history)

    out = []
    rule_points = rules.points.to_numpy(np.float64)
    rule_names = list(rules.points.columns)
    totals = rules.total.to_numpy(np.float64)
    passes = rules.passes_threshold.to_numpy(bool)
    for i, request in enumerate(requests):
        stage = "lost" if lost[i] else _STAGE_OF_RANK[int(reached[i])]
        out.append(
            {
                "lead_id": request.lead.lead_id,
                "as_of": pd.Timestamp(payloads[i]["as_of"]).isoformat(),
                "stage": stage,
                "priority": "closed",
                "hand_set": {
                    "points": float(totals[i]),
                    "threshold": float(rules.threshold),
                    "passes_threshold": bool(passes[i]),
                    "points_per_rule": dict(zip(rule_names, rule_points[i].tolist(), strict=True)),
                },
            }
        )
    wants_reasons = np.asarray(reasons, dtype=bool) & (top > 0)
    for transition in TRANSITIONS:
        _score_transition(
            models.by_transition[transition], features, reached, lost, wants_reasons, top, out
        )
    for i, row in enumerate(out):
        active = "sql_to_won" if reached[i] == STAGE_RANK["sql"] else "mql_to_sql"
        row["priority"] = (
            "closed"
            if lost[i] or reached[i] >= STAGE_RANK["won"]
            else priority(row[active]["probability"], models.by_transition[active].base_rate)
        )
    return out


def _score_transition(
    served: ServedModel,
    features: pd.DataFrame,
    reached: np.ndarray,
    lost: np.ndarray,
    wants_reasons: np.ndarray,
    top: int,
    out: list[dict],
) -> None:
    """Fill ``out[i][transition]`` for every lead."""
    transition = served.transition
    model = served.bundle.model
    matrix = served.inputs.matrix(features)
    p = probability(model, matrix)
    status = [
        transition_status(transition, int(r), bool(x)) for r, x in zip(reached, lost, strict=True)
    ]
    scored = np.array([s in ("open", "hypothetical") for s in status], dtype=bool)
    explain = np.flatnonzero(scored & wants_reasons)
    shap = contributions(model, matrix[explain])[:, :-1] if len(explain) else None
    ref = {"name": served.name, "version": served.version, "alias": served.alias}
    explained = {int(i): k for k, i in enumerate(explain)}
    raw_levels = {
        served.inputs.level_at[n]: features[n].to_numpy(object) for n in served.inputs.levels
    }
    for i, row in enumerate(out):
        entry: dict[str, Any] = {
            "status": status[i],
            "probability": float(p[i]) if scored[i] else None,
            "note": _NOTES[(transition, status[i])],
            "model": ref,
        }
        if i in explained:
            values = matrix[i]

            def value_of(j: int, i: int = i, values: np.ndarray = values) -> Any:
                if j in raw_levels:
                    value = raw_levels[j][i]
                    return None if value is None or value != value else str(value)
                return float(values[j])

            unseen = {j: bool(np.isnan(values[j]) and value_of(j) is not None) for j in raw_levels}
            up, down = served.reasons.explain(shap[explained[i]], value_of, top, unseen)
            entry["reasons_up"], entry["reasons_down"] = up, down
        row[transition] = entry
