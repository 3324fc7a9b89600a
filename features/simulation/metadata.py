"""The run's metadata: parameters, true effects and the rates the run actually achieved.

Achieved rates ignore the data end, so calibration can be checked against DOMAIN.md
without the censoring biasing them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.contract import INDUSTRIES, LEAD_CATEGORIES, LEAD_TYPES
from features.history import LeadHistory
from features.simulation import params as sp
from features.simulation.codes import Columns


def roc_auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve via ranks (ties averaged): the oracle's ranking quality."""
    label = np.asarray(label, dtype=bool)
    pos, neg = int(label.sum()), int((~label).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = pd.Series(np.asarray(score)).rank().to_numpy()
    return float((ranks[label].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _mean(values: np.ndarray) -> float:
    """Mean that is NaN, not a warning, for a tiny run without any such row."""
    return float(values.mean()) if values.size else float("nan")


def _rate_by(codes: np.ndarray, vocab: Sequence[str], hit: np.ndarray) -> dict[str, float]:
    """Rate per value the run drew; values it never drew are left out rather than NaN."""
    return {v: float(hit[codes == i].mean()) for i, v in enumerate(vocab) if (codes == i).any()}


def build_metadata(
    n: int,
    seed: int,
    start: pd.Timestamp,
    days: int,
    params: sp.SimulationParams,
    leads: Columns,
    out: Columns,
    history: LeadHistory,
) -> dict[str, Any]:
    """Parameters, true effects and the achieved (eventual, ignoring the data end) rates."""
    customer = np.zeros(n, dtype=bool)
    customer[out["won"]] = True

    return {
        "seed": seed,
        "n_leads": n,
        "start": start.isoformat(),
        "days": days,
        "data_end": (start + pd.Timedelta(days=days)).isoformat(),
        "horizon_days": sp.HORIZON_DAYS,
        "parameters": params.describe(),
        "true_effects": {
            name: {
                "mql_to_sql": e.mql_to_sql,
                "sql_to_won": e.sql_to_won,
                "description": e.description,
            }
            for name, e in params.all_effects().items()
        },
        "achieved_rates": {
            "note": "eventual outcomes of all simulated leads, as if the data never ended",
            "lead_to_mql": out["mql"].size / n,
            "mql_to_sql": _mean(out["is_sql"]),
            "sql_to_won": _mean(out["is_won"]),
            "lead_to_customer": float(customer.mean()),
            "lead_to_customer_by_lead_category": _rate_by(
                leads["lead_category"], LEAD_CATEGORIES, customer
            ),
            "lead_to_customer_by_industry": _rate_by(leads["industry"], INDUSTRIES, customer),
            "lead_to_customer_by_lead_type": _rate_by(leads["lead_type"], LEAD_TYPES, customer),
            "mean_true_probability": {
                "mql_to_sql": _mean(out["p_sql"]),
                "sql_to_won": _mean(out["p_won"]),
            },
            "oracle_auc": {
                "mql_to_sql": roc_auc(out["p_sql"], out["is_sql"]),
                "sql_to_won": roc_auc(out["p_won"], out["is_won"]),
            },
        },
        "counts": {
            "leads": n,
            "touches": len(history.touches),
            "stage_changes": len(history.stage_changes),
            "touches_per_lead": len(history.touches) / n,
        },
    }
