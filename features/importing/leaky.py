"""Leaky lead fields of an export: named by the mapping, measured against the imported outcome,
and the current-value-only fields used as features.

A CRM's lead record holds fields filled after the outcome (IsConverted, ConvertedDate, status,
rating, tags): the mapping names the known ones, and every column of the lead table is also
measured against the outcome the import itself produced (reached SQL or won), with the same
measures as flat exports (``features.leaks``: determines the outcome, near-perfect alone, a
big near-pure value). A measured leak (determines the outcome or predicts it near-perfectly)
that feeds a lead attribute is emptied in the output unless the mapping keeps it
(``keep_leaky``); a suspect (a big near-pure value, which honest signals such as "student" can
also have) is named and kept. Every other mapped lead field is a snapshot at
export time with no history: it is used, but marked as a leak risk unless the mapping vouches
it is set when the lead is created (``set_at_creation``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.dates import DateSurvey, decide, parse_dates
from core.errors import InputError
from features.importing.mapping import Block
from features.importing.report import LeakyField
from features.leaks import PURE_LEVEL, Leak, outcome_like, pure_level

MIN_OUTCOME_LEADS = 20  # of each outcome, to measure anything
NUMBER_SHARE = 0.98
CURRENT_VALUE = (
    "known only as its value at export time (no history): it may have been filled or "
    "changed after the outcome"
)


def leaky_fields(
    block: Block,
    sample: pd.DataFrame,
    outcome: np.ndarray,
    used: dict[str, str],
    events: set[str],
    seed: int = 0,
) -> tuple[list[LeakyField], list[str]]:
    """(fields, notes) for one leads block. ``sample``: raw columns of sampled source rows;
    ``outcome``: 0/1 per sample row (NaN where its lead was not imported); ``used``: source
    column -> the lead attribute it feeds; ``events``: columns other blocks read as event
    times or stages (they never become features). Named fields the export lacks are left out."""
    found: dict[str, LeakyField] = {}
    notes = []

    def unused(column: str) -> str:
        return "event times only" if column in events else "not used"

    for column, why in block.leaky.items():
        if column not in sample.columns:
            continue
        feeds = used.get(column)
        action = "emptied" if feeds and column not in block.keep_leaky else unused(column)
        found[column] = LeakyField(block.source, column, why, "mapping", feeds, action)
    known = ~np.isnan(outcome)
    y = outcome[known].astype(int)
    skip = {c for c, feeds in used.items() if feeds in ("lead_id", "created_at")}
    if min(int(y.sum()), int((1 - y).sum())) < MIN_OUTCOME_LEADS:
        notes.append(
            f"{block.source}: too few converted and unconverted leads "
            f"({int(y.sum())}/{int((1 - y).sum())}, {MIN_OUTCOME_LEADS} of each needed) "
            "to measure which fields behave like the outcome"
        )
    else:
        for column in sample.columns:
            if column in skip or column.startswith("__"):
                continue
            leak = _measured(column, sample[column][known].reset_index(drop=True), y, seed)
            if leak is None:
                continue
            feeds = used.get(column)
            if feeds and leak.kind == PURE_LEVEL:
                action = "used: suspect"
            elif feeds and column not in block.keep_leaky:
                action = "emptied"
            elif feeds:
                action = "kept (keep_leaky): leak risk"
            else:
                action = unused(column)
            named = found.get(column)
            evidence = f"{leak.kind}, {leak.evidence}"
            why = (
                f"{named.why}; measured: {evidence}"
                if named
                else f"behaves like the outcome: {evidence}"
            )
            found[column] = LeakyField(
                block.source, column, why, "mapping" if named else "measured", feeds, action
            )
    for column, feeds in used.items():
        if column in found or column in skip or column in block.set_at_creation:
            continue
        found[column] = LeakyField(
            block.source, column, CURRENT_VALUE, "current value", feeds, "used: leak risk"
        )
    return list(found.values()), notes


def _measured(column: str, values: pd.Series, y: np.ndarray, seed: int) -> Leak | None:
    """How ``values`` behave like the outcome, or None."""
    present = values.dropna()
    if present.empty:
        return None
    numbers = pd.to_numeric(values.astype("object"), errors="coerce")
    if numbers.notna().sum() >= NUMBER_SHARE * len(present):
        series, numeric = numbers.astype("float64"), True
    elif DateSurvey().add(present.astype(str)).readable_share >= NUMBER_SHARE:
        series, numeric = _days(values), True
    else:
        series, numeric = values.astype("object"), False
    leak = outcome_like(column, series, y, numeric=numeric, seed=seed)
    if leak is None and not numeric:
        leak = pure_level(column, series, y)
    return leak


def _days(values: pd.Series) -> pd.Series:
    """Dates as days since the epoch (blanks stay NaN: a date filled only for converters is
    caught by its blanks); ambiguous conventions are read day-first, the order is what counts."""
    survey = DateSurvey().add(values)
    try:
        fmt = decide(survey, "measure")
    except InputError:
        fmt = decide(survey, "measure", convention="dayfirst")
    stamps = parse_dates(values, fmt)
    return pd.Series(stamps.astype("int64") / 86_400e9, dtype="float64").where(~np.isnat(stamps))
