"""A service serving part of the funnel (``Models.missing``: no champion for a transition yet,
as after training on a history without won deals): which leads need the missing transition,
and the 503 that refuses them.

A lead needs the transition its priority comes from (``serving.scoring.scorer``): SQL to won at
SQL, MQL to SQL before SQL; won and lost leads need none. An MQL is scored while SQL to won is
missing (that part of its answer is ``unavailable``); an SQL is refused.
"""

from __future__ import annotations

import numpy as np

from core.contract import active_transitions
from core.errors import TransitionNotServedError
from serving.scoring.served import Models

# whom each transition is the active one for (priority, and what a lead needs served)
_NEEDS = {"mql_to_sql": "not yet at SQL", "sql_to_won": "at SQL"}


def needing(models: Models, reached: np.ndarray, lost: np.ndarray) -> dict[str, np.ndarray]:
    """Per transition without a model (``models.missing``), which leads need it: those whose
    active transition it is (SQL to won at SQL, MQL to SQL before SQL; won and lost need
    none). Empty when every transition is served."""
    if not models.missing:
        return {}
    active = active_transitions(reached, lost)
    return {transition: active[transition] for transition in models.missing}


def not_served(
    models: Models, transition: str, leads: int, of: int | None = None
) -> TransitionNotServedError:
    """The 503 of a request with ``leads`` of its ``of`` leads to score needing ``transition``
    (``of`` None: a single-lead request)."""
    unserved = models.missing[transition]
    if of is None:
        who, need = "the lead is", "needs"
    else:
        one = leads == 1
        who = f"{leads:,} of the {of:,} leads to score {'is' if one else 'are'}"
        need = "needs" if one else "need"
    served = ", ".join(models.by_transition)
    return TransitionNotServedError(
        f"{transition}: {unserved.reason} ({unserved.name}); {who} {_NEEDS[transition]} and "
        f"{need} it (this service serves {served})",
        transition=transition,
        leads=leads,
    )


def refuse_unserved(models: Models, reached: np.ndarray, lost: np.ndarray) -> None:
    """Raises ``not_served`` for the first missing transition some lead needs."""
    for transition, needs in needing(models, reached, lost).items():
        count = int(needs.sum())
        if count:
            raise not_served(models, transition, count, len(reached))
