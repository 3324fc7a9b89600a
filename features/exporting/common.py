"""What the format writers share: one lead's touches by kind, ids in a CRM's style, times as
CRMs write them, and files written as CSV or Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.paths import output_folder, writing
from features.history import LeadHistory

KIND = ("channel", "action", "page_type")


def kind_mask(touches: pd.DataFrame, channel: str, action: str, page_type: str | None = "*"):
    """Touches of one kind; ``page_type="*"`` matches any page type, None only missing."""
    mask = (touches["channel"] == channel) & (touches["action"] == action)
    if page_type is None:
        mask &= touches["page_type"].isna()
    elif page_type != "*":
        mask &= touches["page_type"] == page_type
    return mask.to_numpy(dtype=bool)


def iso_z(times: pd.Series | np.ndarray) -> np.ndarray:
    """Salesforce's data-export style: ``2024-01-05T10:00:00.000Z``."""
    return pd.DatetimeIndex(times).strftime("%Y-%m-%dT%H:%M:%S.000Z").to_numpy(dtype=object)


def iso_space(times: pd.Series | np.ndarray) -> np.ndarray:
    """HubSpot's export style: ``2024-01-05 10:00:00``; missing times stay empty."""
    index = pd.DatetimeIndex(times)
    return np.where(index.isna(), None, index.strftime("%Y-%m-%d %H:%M:%S"))


def padded(prefix: str, numbers: pd.Series | np.ndarray, width: int = 15) -> np.ndarray:
    """Ids in Salesforce's style: a key prefix and a zero-padded number (``00Q000000000017``)."""
    return np.char.add(prefix, np.char.zfill(np.asarray(numbers).astype(str), width))


def inverse(mapping: dict[str, str], values: pd.Series) -> np.ndarray:
    """Contract values -> the export's words (missing stays missing)."""
    return values.astype(object).map(mapping).to_numpy(dtype=object)


def write_tables(tables: dict[str, pd.DataFrame], folder: Path, fmt: str = "csv") -> Path:
    """Each table as ``{name}.csv`` (empty cells for missing) or ``{name}.parquet``."""
    folder = output_folder(folder)
    for name, frame in tables.items():
        path = folder / f"{name}.{fmt}"
        with writing(path):
            if fmt == "csv":
                frame.to_csv(path, index=False)
            else:
                frame.to_parquet(path, index=False)
    return folder


def carried_history(
    history: LeadHistory,
    touches: np.ndarray,
    stages: np.ndarray,
    lead_columns: dict[str, object],
    durations: np.ndarray | None = None,
) -> LeadHistory:
    """The part of ``history`` a format carries: the touches and stage entries of the masks,
    lead columns replaced or coarsened as given (None: the format cannot say), durations
    kept only where ``durations`` says."""
    leads = history.leads.copy()
    for column, values in lead_columns.items():
        leads[column] = values if values is not None else pd.Series(pd.NA, index=leads.index)
    kept = history.touches[touches].copy()
    if durations is not None:
        kept["duration_s"] = kept["duration_s"].where(durations[touches])
    return LeadHistory(
        leads,
        kept.reset_index(drop=True),
        history.stage_changes[stages].reset_index(drop=True),
    )
