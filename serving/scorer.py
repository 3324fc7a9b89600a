"""Scores one or many leads with the loaded models: pure over that state.

One pass for any number of leads, through the training code: ``features.online.visible_of``
cuts the requests' records at their ``as_of``, ``features.build.feature_columns`` computes the
features, ``training.rules.rule_points`` the hand-set points, and each transition's calibrated
model the probability. All of it on arrays: a pass of one lead pays no pandas frames.

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
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from features.build import feature_columns
from features.contract import STAGE_RANK, STAGES
from features.definitions import Columns
from features.online import visible_of
from features.window import VisibleHistory
from training.model import LeadConversionModel
from training.rules import rule_points as score_rules

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


def probability(model: LeadConversionModel, matrix: np.ndarray) -> np.ndarray:
    """Calibrated probabilities of an encoded matrix, as ``model.predict_proba(features)[:, 1]``."""
    return model.calibrated(model.raw_probability(matrix))


def inputs_key(model: LeadConversionModel) -> tuple:
    """What ``model.encode`` depends on: models with equal keys share one matrix per pass."""
    levels = model.categorical_levels_
    return (
        tuple(str(n) for n in model.feature_names_in_),
        tuple((n, tuple(levels[n])) for n in sorted(levels)),
    )


def _stages(visible: VisibleHistory) -> tuple[np.ndarray, np.ndarray]:
    """Highest stage rank reached (lost aside) and whether the lead was lost, before as_of."""
    rows, codes = visible.stages.row, visible.stages.stage
    is_lost = codes == _LOST_CODE
    reached = np.zeros(visible.n, dtype=np.int64)
    np.maximum.at(reached, rows[~is_lost], _RANK_OF_CODE[codes[~is_lost]])
    lost = np.zeros(visible.n, dtype=bool)
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


# every (transition, stage rank reached, lost) a lead can be in, looked up once per lead
_STATUS = {
    (transition, rank, lost): transition_status(transition, rank, lost)
    for transition in TRANSITIONS
    for rank in set(STAGE_RANK.values())
    for lost in (False, True)
}


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
    payloads = [
        {
            "lead": request.lead.model_dump(),
            "touches": request.touches,  # plain dicts already (read, never changed)
            "stage_changes": request.stage_changes,
            "as_of": request.as_of or now,
        }
        for request in requests
    ]
    # rows are positions in the pass, so two requests for the same CRM lead never mix
    return score_visible(
        models,
        visible_of(payloads),
        [request.lead.lead_id for request in requests],
        [payload["as_of"] for payload in payloads],
        reasons=reasons,
        top=top,
    )


def score_visible(
    models: Models,
    visible: VisibleHistory,
    lead_ids: Sequence[int | str],
    as_of: Sequence[datetime],
    *,
    reasons: Sequence[bool],
    top: int,
) -> list[dict]:
    """``score_requests`` from leads already cut at their ``as_of`` (aware UTC datetimes): the
    one cut is shared by the features, the rules and the stages."""
    n = visible.n
    features = feature_columns(visible)
    rule_points, totals = score_rules(models.rules, visible)
    reached, lost = _stages(visible)

    reached_list, lost_list = reached.tolist(), lost.tolist()
    rule_names = [rule.name for rule in models.rules.rules]
    threshold = float(models.rules.threshold)
    out = [
        {
            "lead_id": lead_id,
            "as_of": when.isoformat(),
            "stage": "lost" if is_lost else _STAGE_OF_RANK[rank],
            "priority": "closed",
            "hand_set": {
                "points": total,
                "threshold": threshold,
                "passes_threshold": total >= threshold,
                "points_per_rule": dict(zip(rule_names, points, strict=True)),
            },
        }
        for lead_id, when, points, total, rank, is_lost in zip(
            lead_ids,
            as_of,
            rule_points.tolist(),
            totals.tolist(),
            reached_list,
            lost_list,
            strict=True,
        )
    ]
    wants_reasons = np.asarray(reasons, dtype=bool) & (top > 0)
    matrices: dict[tuple, np.ndarray] = {}  # both models usually read the same inputs
    for transition in TRANSITIONS:
        served = models.by_transition[transition]
        if served.inputs_key not in matrices:
            matrices[served.inputs_key] = served.bundle.model.encode_columns(features, n)
        matrix = matrices[served.inputs_key]
        _score_transition(
            served, features, matrix, reached_list, lost_list, wants_reasons, top, out
        )
    base_rates = {t: models.by_transition[t].base_rate for t in TRANSITIONS}
    for row, rank, is_lost in zip(out, reached_list, lost_list, strict=True):
        if not (is_lost or rank >= STAGE_RANK["won"]):
            active = "sql_to_won" if rank == STAGE_RANK["sql"] else "mql_to_sql"
            row["priority"] = priority(row[active]["probability"], base_rates[active])
    return out


def _score_transition(
    served: ServedModel,
    features: Columns,
    matrix: np.ndarray,
    reached: list[int],
    lost: list[bool],
    wants_reasons: np.ndarray,
    top: int,
    out: list[dict],
) -> None:
    """Fill ``out[i][transition]`` for every lead."""
    transition = served.transition
    model = served.bundle.model
    p = probability(model, matrix).tolist()
    status = [
        _STATUS[transition, rank, is_lost] for rank, is_lost in zip(reached, lost, strict=True)
    ]
    scored = [s in ("open", "hypothetical") for s in status]
    explain = np.flatnonzero(np.array(scored, dtype=bool) & wants_reasons)
    shap = model.contribution_matrix(matrix[explain])[:, :-1] if len(explain) else None
    ref = {"name": served.name, "version": served.version, "alias": served.alias}
    explained = {int(i): k for k, i in enumerate(explain)}
    encoding = model.input_encoding_
    # category values as sent (the matrix holds level positions, NaN for an unseen value)
    raw_levels = {encoding.level_at[name]: features[name] for name in encoding.levels}
    for i, (row, state, has_p, p_i) in enumerate(zip(out, status, scored, p, strict=True)):
        entry: dict[str, Any] = {
            "status": state,
            "probability": p_i if has_p else None,
            "note": _NOTES[(transition, state)],
            "model": ref,
        }
        if i in explained:
            values = matrix[i]

            def value_of(j: int, i: int = i, values: np.ndarray = values) -> Any:
                if j in raw_levels:
                    value = raw_levels[j][i]
                    return value if isinstance(value, str) else None  # categories are text
                return float(values[j])

            unseen = {j: bool(np.isnan(values[j]) and value_of(j) is not None) for j in raw_levels}
            up, down = served.reasons.explain(shap[explained[i]], value_of, top, unseen)
            entry["reasons_up"], entry["reasons_down"] = up, down
        row[transition] = entry
