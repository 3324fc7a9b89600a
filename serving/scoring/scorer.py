"""Scores one or many leads with the loaded models: pure over that state.

One pass for any number of leads, through the training code: ``features.online.visible_of``
cuts the requests' records at their ``as_of``, ``features.build.feature_columns`` computes the
features, ``training.rules.rule_points`` the hand-set points, and each transition's calibrated
model the probability (a model that starts from the rules adds their prior to its trees'). All
of it on arrays: a pass of one lead pays no pandas frames.

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

A service may serve only part of the funnel (``Models.missing``: no champion for a transition
yet). A lead needs the transition its priority comes from (SQL to won at SQL, else MQL to SQL
until won or lost); a request with a lead that needs a missing one is refused whole
(``TransitionNotServedError``, HTTP 503, counting those leads), checked once per pass and only
when something is missing. Other leads get ``unavailable`` where that transition's probability
would have been.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from core.contract import STAGE_RANK, STAGES, TRANSITIONS
from core.errors import TransitionNotServedError
from features.build import feature_columns
from features.definitions import Columns
from features.online import visible_of
from features.window import VisibleHistory
from serving.scoring.served import Models, ServedModel, Unserved
from serving.scoring.unserved import needing, not_served, refuse_unserved
from training.model import LeadConversionModel
from training.model.prior import HAND_SET_POINTS
from training.rules import rule_points as score_rules

if TYPE_CHECKING:
    from serving.schemas.requests import ScoreRequest

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
    ("mql_to_sql", "unavailable"): "No MQL-to-SQL model is served yet (no champion): train it.",
    ("sql_to_won", "unavailable"): "No SQL-to-won model is served yet (no champion): train it.",
}


@dataclass(frozen=True)
class TransitionScores:
    """One transition's part of a scoring pass, per lead. ``served`` is None for a transition
    without a model (``unserved`` says which and why): no lead has its probability."""

    served: ServedModel | None
    parts: list[tuple[str, str, bool]]  # status, its note, whether it has a probability
    probability: np.ndarray  # NaN where the status has none
    reasons: dict[int, tuple[list[dict], list[dict]]]  # (up, down) of each lead explained
    horizons_days: tuple[int, ...] = ()  # the timing model's horizons (none: no timing model)
    within: np.ndarray | None = None  # leads x horizons: P(within each), NaN as probability
    unserved: Unserved | None = None


@dataclass(frozen=True)
class ScoredLeads:
    """A scoring pass's results as columns, one entry per lead in request order. The answers
    are built from it (``serving.encode.rows`` as JSON, ``serving.encode.arrow_writer`` as Arrow)
    and the metrics and the score recorder read it, so no path pays for the others' shape.
    ``features``: the feature columns the scores came from (the recorder keeps a few)."""

    lead_ids: Sequence[int | str]
    as_of: Sequence[datetime]
    stage: list[str]
    priority: list[str]
    rule_names: list[str]
    threshold: float
    rule_points: np.ndarray  # (leads, rules)
    hand_set_points: np.ndarray
    transitions: dict[str, TransitionScores]
    features: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.lead_ids)


def probability(
    model: LeadConversionModel,
    matrix: np.ndarray,
    tree_prediction: Callable[[np.ndarray], np.ndarray] | None = None,
    hand_set_points: np.ndarray | None = None,
) -> np.ndarray:
    """Calibrated probabilities of an encoded matrix, as ``model.predict_proba(features)[:, 1]``;
    ``tree_prediction`` stands in for ``model.raw_probability`` (the served trees, however
    they are computed). A model that starts from the hand-set rules adds the rules prior's
    log-odds of the rows' ``hand_set_points`` to the trees' here, as offline."""
    trees = (tree_prediction or model.raw_probability)(matrix)
    return model.calibrated(model.with_prior(trees, hand_set_points))


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


def _status_parts(transition: str, rank: int, lost: bool) -> tuple[str, str, bool]:
    """A transition's status for one state, its note, and whether it gets a probability."""
    status = transition_status(transition, rank, lost)
    return status, _NOTES[transition, status], status in ("open", "hypothetical")


# every (stage rank reached, lost) a lead can be in, looked up once per lead: its stage, and per
# transition its status, that status's note and whether the transition gets a probability
_STATES = [(rank, lost) for rank in sorted(set(STAGE_RANK.values())) for lost in (False, True)]
_STAGE_OF_STATE = {(rank, lost): "lost" if lost else _STAGE_OF_RANK[rank] for rank, lost in _STATES}
_STATUS_OF_STATE = {
    transition: {(rank, lost): _status_parts(transition, rank, lost) for rank, lost in _STATES}
    for transition in TRANSITIONS
}
# the same for a transition without a model: ``unavailable`` where a probability would be
_UNSERVED_OF_STATE = {
    transition: {
        state: ("unavailable", _NOTES[transition, "unavailable"], False) if parts[2] else parts
        for state, parts in statuses.items()
    }
    for transition, statuses in _STATUS_OF_STATE.items()
}


def refusals(
    models: Models, requests: Sequence[ScoreRequest], *, now: datetime
) -> dict[int, TransitionNotServedError]:
    """For single-lead requests scored together: the position of each request whose lead
    needs a transition without a model, and its 503 (the others are scored as usual)."""
    if not models.missing:
        return {}
    reached, lost = _stages(visible_of(_payloads(requests, now)))
    refused: dict[int, TransitionNotServedError] = {}
    for transition, needs in needing(models, reached, lost).items():
        for i in np.flatnonzero(needs).tolist():
            refused.setdefault(i, not_served(models, transition, 1))
    return refused


def _base_rate(base_rate: float | None) -> float:
    """The base rate priorities are measured against (0.5 when the model has none)."""
    return base_rate if base_rate and base_rate > 0 else 0.5


def priority(p: float | None, base_rate: float | None) -> str:
    """hot / warm / cold by the probability's lift over the transition's base rate."""
    if p is None:
        return "closed"
    base = _base_rate(base_rate)
    return "hot" if p >= HOT_LIFT * base else "warm" if p >= WARM_LIFT * base else "cold"


def _priorities(
    reached: np.ndarray,
    lost: np.ndarray,
    probabilities: dict[str, np.ndarray],
    base_rates: dict[str, float | None],
) -> list[str]:
    """``priority`` of each lead's active transition (SQL to won from SQL, else MQL to SQL), on
    arrays: a Python call per lead cost more than the rest of its row. Lost and won leads are
    ``closed``; every other lead's active transition is open or hypothetical, so it has its
    probability."""
    at_sql = reached == STAGE_RANK["sql"]
    p = np.where(at_sql, probabilities["sql_to_won"], probabilities["mql_to_sql"])
    base = np.where(
        at_sql, _base_rate(base_rates["sql_to_won"]), _base_rate(base_rates["mql_to_sql"])
    )
    closed = lost | (reached >= STAGE_RANK["won"])
    labels = np.select(
        [closed, p >= HOT_LIFT * base, p >= WARM_LIFT * base], ["closed", "hot", "warm"], "cold"
    )
    return labels.tolist()


def score_requests(
    models: Models,
    requests: Sequence[ScoreRequest],
    *,
    now: datetime,
    reasons: Sequence[bool],
    top: int,
) -> ScoredLeads:
    """The requests' scores, in order; ``now`` fills a missing ``as_of``; ``reasons[i]`` says
    whether lead ``i`` gets its reasons."""
    payloads = _payloads(requests, now)
    # rows are positions in the pass, so two requests for the same CRM lead never mix
    return score_visible(
        models,
        visible_of(payloads),
        [request.lead.lead_id for request in requests],
        [payload["as_of"] for payload in payloads],
        reasons=reasons,
        top=top,
    )


def _payloads(requests: Sequence[ScoreRequest], now: datetime) -> list[dict[str, Any]]:
    """The requests as ``features.online.visible_of`` reads them; ``now`` fills ``as_of``."""
    return [
        {
            "lead": request.lead.model_dump(),
            "touches": request.touches,  # plain dicts already (read, never changed)
            "stage_changes": request.stage_changes,
            "as_of": request.as_of or now,
        }
        for request in requests
    ]


def score_visible(
    models: Models,
    visible: VisibleHistory,
    lead_ids: Sequence[int | str],
    as_of: Sequence[datetime],
    *,
    reasons: Sequence[bool],
    top: int,
) -> ScoredLeads:
    """``score_requests`` from leads already cut at their ``as_of`` (aware UTC datetimes): the
    one cut is shared by the features, the rules and the stages. Raises
    ``TransitionNotServedError`` when a lead needs a transition without a model."""
    n = visible.n
    reached, lost = _stages(visible)
    if models.missing:  # one check per pass; nothing more when every transition is served
        refuse_unserved(models, reached, lost)
    features = feature_columns(visible)
    rule_points, totals = score_rules(models.rules, visible)
    states = list(zip(reached.tolist(), lost.tolist(), strict=True))
    rule_names = [rule.name for rule in models.rules.rules]
    if rule_points.shape[1] != len(rule_names):
        raise ValueError(f"{rule_points.shape[1]} rule point columns for {len(rule_names)} rules")

    wants_reasons = np.asarray(reasons, dtype=bool) & (top > 0)
    matrices: dict[tuple, np.ndarray] = {}  # both models usually read the same inputs
    transitions: dict[str, TransitionScores] = {}
    for transition in TRANSITIONS:
        served = models.by_transition.get(transition)
        if served is None:
            transitions[transition] = _unserved_scores(models.missing[transition], states)
            continue
        if served.inputs_key not in matrices:
            matrices[served.inputs_key] = served.bundle.model.encode_columns(features, n)
        points = totals  # a model trained with other rules reads its own rules' points
        if served.own_rules is not None:
            points = score_rules(served.own_rules, visible)[1]
        transitions[transition] = _transition_scores(
            served, features, matrices[served.inputs_key], points, states, wants_reasons, top
        )
    base_rates = {
        t: served.base_rate if (served := models.by_transition.get(t)) else None
        for t in TRANSITIONS
    }
    probabilities = {t: scores.probability for t, scores in transitions.items()}
    return ScoredLeads(
        lead_ids=lead_ids,
        as_of=as_of,
        stage=[_STAGE_OF_STATE[state] for state in states],
        priority=_priorities(reached, lost, probabilities, base_rates),
        rule_names=rule_names,
        threshold=float(models.rules.threshold),
        rule_points=rule_points,
        hand_set_points=totals,
        transitions=transitions,
        features=features,
    )


def _unserved_scores(unserved: Unserved, states: list[tuple[int, bool]]) -> TransitionScores:
    """A transition without a model: each lead's status, ``unavailable`` where it would have
    had a probability (no lead that needs it gets this far: ``refuse_unserved``)."""
    status_of = _UNSERVED_OF_STATE[unserved.transition]
    parts = [status_of[state] for state in states]
    nothing = np.full(len(states), np.nan)
    return TransitionScores(None, parts, nothing, {}, unserved=unserved)


def _transition_scores(
    served: ServedModel,
    features: Columns,
    matrix: np.ndarray,
    hand_set_points: np.ndarray,
    states: list[tuple[int, bool]],
    wants_reasons: np.ndarray,
    top: int,
) -> TransitionScores:
    """Each lead's status for ``served.transition``, its probability and, for the leads that
    want them, its reasons.

    Only open and hypothetical leads get a probability, so only their rows go through the
    model: in a batch from a CRM's history most leads are not MQL yet, lost or converted (in
    the benchmark's, 298 of 1,000 for MQL -> SQL and 920 for SQL -> won).

    A model that starts from the hand-set rules gets its prior from ``hand_set_points`` (the
    rules' total per lead), in the probability and as one more reason, "your rules", beside
    the trees' SHAP values however those are computed."""
    model = served.bundle.model
    status_of = _STATUS_OF_STATE[served.transition]
    parts = [status_of[state] for state in states]
    scored = np.array([has_p for _, _, has_p in parts], dtype=bool)
    probabilities = np.full(len(states), np.nan)
    if scored.any():
        probabilities[scored] = probability(
            model, matrix[scored], served.tree_prediction, hand_set_points[scored]
        )
    timing = served.bundle.timing
    horizons: tuple[int, ...] = () if timing is None else timing.horizons_days
    within = None
    if timing is not None:  # P(within each horizon of as_of), as ``ScoringBundle.score``
        within = np.full((len(states), len(horizons)), np.nan)
        if scored.any():
            inputs = {**features, HAND_SET_POINTS: hand_set_points}
            within[scored] = timing.within_matrix(
                timing.encode_columns(inputs, len(states))[scored], served.timing_prediction
            )
    explained: dict[int, tuple[list[dict], list[dict]]] = {}
    explain = np.flatnonzero(scored & wants_reasons)
    if not len(explain):
        return TransitionScores(served, parts, probabilities, explained, horizons, within)
    shap = served.contributions(matrix[explain])[:, :-1]
    rules_at = shap.shape[1]  # the rules prior's column, after the trees' inputs
    if model.prior_ is not None:
        shap = np.column_stack([shap, model.prior_.contribution(hand_set_points[explain])])
    encoding = model.input_encoding_
    # category values as sent (the matrix holds level positions, NaN for an unseen value)
    raw_levels = {encoding.level_at[name]: features[name] for name in encoding.levels}
    for k, i in enumerate(explain.tolist()):
        values = matrix[i]

        def value_of(j: int, i: int = i, values: np.ndarray = values) -> Any:
            if j == rules_at:
                return float(hand_set_points[i])
            if j in raw_levels:
                value = raw_levels[j][i]
                return value if isinstance(value, str) else None  # categories are text
            return float(values[j])

        unseen = {j: bool(np.isnan(values[j]) and value_of(j) is not None) for j in raw_levels}
        explained[i] = served.reasons.explain(shap[k], value_of, top, unseen)
    return TransitionScores(served, parts, probabilities, explained, horizons, within)
