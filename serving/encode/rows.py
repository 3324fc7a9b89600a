"""A scoring pass as JSON-ready rows: one dict per lead in the ``ScoreOut`` shape.

Each row is built whole, in its final key order: one dict literal is cheaper than filling one
in, and at 1,000 leads the rows are a good part of a batch's cost (the Arrow answer,
``serving.encode.arrow_writer``, skips them).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import UTC, datetime
from typing import Any

from core.contract import TRANSITIONS
from serving.scoring.scorer import ScoredLeads, TransitionScores


def rows_of(scored: ScoredLeads) -> list[dict]:
    """One response dict (``ScoreOut`` shape) per lead, in order."""
    threshold = scored.threshold
    rule_names = scored.rule_names  # the scorer checked one points column per rule
    entries = {t: _entries(scored.transitions[t]) for t in TRANSITIONS}
    return [
        {
            "lead_id": lead_id,
            "as_of": when,
            "stage": stage,
            "priority": lead_priority,
            "hand_set": {
                "points": total,
                "threshold": threshold,
                "passes_threshold": total >= threshold,
                "points_per_rule": dict(zip(rule_names, points, strict=False)),
            },
            "mql_to_sql": to_sql,
            "sql_to_won": to_won,
        }
        for lead_id, when, stage, lead_priority, points, total, to_sql, to_won in zip(
            scored.lead_ids,
            isoformats(scored.as_of),
            scored.stage,
            scored.priority,
            scored.rule_points.tolist(),
            scored.hand_set_points.tolist(),
            entries["mql_to_sql"],
            entries["sql_to_won"],
            strict=True,
        )
    ]


def _entries(scores: TransitionScores) -> list[dict[str, Any]]:
    """Each lead's ``TransitionOut``: status, probability, note and model, plus the reasons of
    the leads explained."""
    ref = model_ref(scores)
    out: list[dict[str, Any]] = [
        {
            "status": status,
            "probability": p if has_p else None,
            "within_days": within if has_p else None,
            "note": note,
            "model": ref,
        }
        for (status, note, has_p), p, within in zip(
            scores.parts, scores.probability.tolist(), within_days(scores), strict=True
        )
    ]
    for i, (up, down) in scores.reasons.items():
        out[i]["reasons_up"], out[i]["reasons_down"] = up, down
    return out


def within_days(scores: TransitionScores) -> list[dict[str, float] | None]:
    """Each lead's ``{"30": p, "60": p, ...}`` (None without a timing model)."""
    if scores.within is None:
        return [None] * len(scores.parts)
    keys = [str(days) for days in scores.horizons_days]
    return [dict(zip(keys, row, strict=True)) for row in scores.within.tolist()]


def model_ref(scores: TransitionScores) -> dict[str, str | None]:
    """The ``ModelRef`` of the model that scored a transition."""
    served = scores.served
    if served is None:  # no model serves the transition: its registered name only
        name = scores.unserved.name if scores.unserved is not None else ""
        return {"name": name, "version": None, "alias": None}
    return {"name": served.name, "version": served.version, "alias": served.alias}


def isoformats(as_of: Sequence[datetime]) -> list[str]:
    """``when.isoformat()`` of each lead, formatted once per distinct time: a batch's leads mostly
    share one ``as_of``, and formatting each was a good part of a row's cost. Equal times print
    alike when all are in UTC (as both callers send them); otherwise the key holds the UTC offset
    as well, since equal instants in different zones print differently."""
    keys: Sequence[Hashable]
    if all(when.tzinfo is UTC for when in as_of):
        keys = as_of
    else:
        keys = [(when, when.utcoffset()) for when in as_of]
    # one time per key (any of them: they all print alike), formatted once
    text = {key: when.isoformat() for key, when in dict(zip(keys, as_of, strict=True)).items()}
    return [text[key] for key in keys]
