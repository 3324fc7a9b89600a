"""The integer codes the simulator works in, so every step stays vectorised numpy.

Touch kinds, actions, page types and countries are carried as small ints and only turned
into the contract's categoricals when the frames are built; ``DAY`` is the clock's unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.contract import ACTIONS, CHANNELS, PAGE_TYPES
from features.simulation import params as sp

DAY = 86_400  # the simulation clock counts whole seconds since ``start``
KIND_NAMES = [k.name for k in sp.KINDS]
KIND = {name: i for i, name in enumerate(KIND_NAMES)}
KIND_CHANNEL = np.array([CHANNELS.index(k.channel) for k in sp.KINDS], dtype=np.int8)
KIND_ACTION = np.array([ACTIONS.index(k.action) for k in sp.KINDS], dtype=np.int8)
KIND_PAGE = np.array(
    [PAGE_TYPES.index(k.page_type) if k.page_type else -1 for k in sp.KINDS], dtype=np.int8
)
KIND_DURATION = np.array([k.duration_s or np.nan for k in sp.KINDS])
COUNTRIES = tuple(c for c in sp.COUNTRY_MIX if c is not None)
A = {a: i for i, a in enumerate(ACTIONS)}
PG = {p: i for i, p in enumerate(PAGE_TYPES)}

# per-lead (or per-decision) columns as parallel arrays, the simulator's working form
Columns = dict[str, np.ndarray]


def lookup(table: Mapping[Any, float], vocab: Sequence[Any], codes: np.ndarray) -> np.ndarray:
    """Per-row value of ``table`` keyed by vocabulary value (None = missing code -1)."""
    values = np.array([table.get(v, 0.0) for v in vocab] + [table.get(None, 0.0)])
    return values[codes]
