"""Which leads a missing transition refuses: those whose priority it gives (the active
transition), and no others; checked only when a transition is missing."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from core.contract import STAGE_RANK, TRANSITIONS
from core.errors import TransitionNotServedError
from serving.scoring.served import NO_CHAMPION, Models, Unserved
from serving.scoring.unserved import needing, refuse_unserved

# lead, mql, sal, sql, won, lost after mql, lost after sql
STAGES = ["lead", "mql", "sal", "sql", "won", "mql", "sql"]
REACHED = np.array([STAGE_RANK[stage] for stage in STAGES])
LOST = np.array([False] * 5 + [True] * 2)


def _missing(*transitions: str, hand_set_rules) -> Models:
    unserved = {t: Unserved(t, f"leadscore-{t}", NO_CHAMPION) for t in transitions}
    return Models({}, hand_set_rules, datetime.now(UTC), missing=unserved)


def test_each_lead_needs_only_its_active_transition(hand_set_rules):
    models = _missing(*TRANSITIONS, hand_set_rules=hand_set_rules)
    needs = needing(models, REACHED, LOST)
    assert needs["mql_to_sql"].tolist() == [True, True, True, False, False, False, False]
    assert needs["sql_to_won"].tolist() == [False, False, False, True, False, False, False]
    assert needing(_missing(hand_set_rules=hand_set_rules), REACHED, LOST) == {}


def test_a_pass_with_leads_needing_a_missing_transition_is_refused_with_their_count(
    hand_set_rules,
):
    models = _missing("sql_to_won", hand_set_rules=hand_set_rules)
    with pytest.raises(TransitionNotServedError) as caught:
        refuse_unserved(models, REACHED, LOST)
    assert caught.value.http_status == 503
    assert (caught.value.transition, caught.value.leads) == ("sql_to_won", 1)
    assert "1 of the 7 leads to score is at SQL and needs it" in str(caught.value)
    closed = np.array([STAGE_RANK["won"], STAGE_RANK["sql"]]), np.array([False, True])
    refuse_unserved(models, *closed)  # won, and lost after SQL: nothing needed
