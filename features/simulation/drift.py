"""Drift to inject into a simulation, so monitoring can be tested against shifts with a known
start: what a team sees when a campaign changes where leads come from, when a web form stops
asking a question, or when a segment starts converting differently.

Each kind starts on a day of the simulation and touches only what it names:

- ``SourceMixShift``: from ``starts_day``, a share of new leads comes from ``source`` (a
  campaign); they behave like other leads of that source, so the model's inputs move.
- ``FormDropsField``: from ``starts_day``, new leads have ``column`` missing in the CRM (the
  form no longer asks); the lead still is what it was, so only what the model sees changes.
- ``ConversionShift``: from ``starts_day``, the true log-odds of ``transition`` move by
  ``log_odds`` for leads whose ``column`` is ``value`` at decision time: the tables look the
  same, only the outcomes differ.

The draws a drift needs come from their own generator (``seed`` + the drift's position), never
from the simulation's, so a drift changes what it names and nothing before it starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.contract import TABLES
from features.simulation.codes import DAY, Columns

# lead columns a drift may name, and the vocabularies their codes index
_CODED = {
    column.name: column.allowed
    for column in TABLES["leads"]
    if column.allowed is not None and column.name != "country"
}
_NUMERIC = ("company_size", "annual_revenue")
_NULLABLE = tuple(column.name for column in TABLES["leads"] if column.nullable)


@dataclass(frozen=True)
class SourceMixShift:
    """From ``starts_day``, each new lead comes from ``source`` with probability ``share``
    (the others keep the source they drew)."""

    starts_day: float
    source: str
    share: float

    def __post_init__(self) -> None:
        _check_value("source", self.source)
        if not 0 < self.share <= 1:
            raise ValueError(f"SourceMixShift.share must be in (0, 1], got {self.share}")


@dataclass(frozen=True)
class FormDropsField:
    """From ``starts_day``, new leads have ``column`` missing (the form stopped asking)."""

    starts_day: float
    column: str

    def __post_init__(self) -> None:
        if self.column not in _NULLABLE:
            raise ValueError(
                f"FormDropsField.column: {self.column!r} is not a lead attribute that may be "
                f"missing ({', '.join(_NULLABLE)})"
            )


@dataclass(frozen=True)
class ConversionShift:
    """From ``starts_day`` (decision time), the true log-odds of ``transition`` move by
    ``log_odds`` for leads whose ``column`` is ``value``."""

    starts_day: float
    transition: str
    column: str
    value: str
    log_odds: float

    def __post_init__(self) -> None:
        if self.transition not in ("mql_to_sql", "sql_to_won"):
            raise ValueError(f"ConversionShift.transition: unknown {self.transition!r}")
        _check_value(self.column, self.value)


Drift = SourceMixShift | FormDropsField | ConversionShift


def _check_value(column: str, value: str) -> None:
    if column not in _CODED:
        raise ValueError(f"drift column {column!r} is not a coded lead attribute")
    if value not in _CODED[column]:
        raise ValueError(f"drift value {value!r} is not a {column} ({', '.join(_CODED[column])})")


def _since(drift: Drift, times_s: np.ndarray) -> np.ndarray:
    return times_s >= drift.starts_day * DAY


def shift_sources(leads: Columns, drifts: Sequence[Drift], seed: int) -> Columns:
    """The leads with every ``SourceMixShift`` applied (a new dict; the input is not changed)."""
    out = dict(leads)
    for k, drift in enumerate(drifts):
        if not isinstance(drift, SourceMixShift):
            continue
        rng = np.random.default_rng([seed, k])
        moved = _since(drift, out["created"]) & (rng.random(out["created"].size) < drift.share)
        source = out["source"].copy()
        source[moved] = _CODED["source"].index(drift.source)
        out["source"] = source
    return out


def shown_leads(leads: Columns, drifts: Sequence[Drift]) -> Columns:
    """The leads as the CRM shows them after every ``FormDropsField`` (a new dict): the
    column is missing for leads created since the drift started."""
    out = dict(leads)
    for drift in drifts:
        if not isinstance(drift, FormDropsField):
            continue
        dropped = _since(drift, out["created"])
        values = out[drift.column].copy()
        if drift.column in _NUMERIC:
            values[dropped] = np.nan
        else:  # codes: -1 is missing
            values[dropped] = -1
        out[drift.column] = values
    return out


def shift_probability(
    transition: str,
    p: np.ndarray,
    leads: Columns,
    rows: np.ndarray,
    decision_s: np.ndarray,
    drifts: Sequence[Drift],
) -> np.ndarray:
    """``p`` (true probabilities of ``rows`` deciding at ``decision_s``) with every
    ``ConversionShift`` of ``transition`` applied on the log-odds (``p`` itself without one)."""
    shifts = [d for d in drifts if isinstance(d, ConversionShift) and d.transition == transition]
    if not shifts:
        return p
    out = p.copy()
    for drift in shifts:
        code = _CODED[drift.column].index(drift.value)
        hit = _since(drift, decision_s) & (leads[drift.column][rows] == code)
        q = np.clip(out[hit], 1e-12, 1 - 1e-12)
        out[hit] = 1 / (1 + np.exp(-(np.log(q / (1 - q)) + drift.log_odds)))
    return out
