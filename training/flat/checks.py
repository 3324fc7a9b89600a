"""Every input check of a flat export, without side effects: read, type the columns, set rows
aside, refuse leaks, name suspects and split. A bad file fails here, before MLflow's store is
touched or anything is fitted (``training.flat.run`` trains on what passes)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError
from training.flat.table import (
    ColumnPlan,
    FlatSplit,
    Leak,
    find_leaky_columns,
    find_suspects,
    infer_columns,
    read_flat_table,
    refuse_leaks,
    split_rows,
    usable_rows,
)


@dataclass(frozen=True)
class FlatInputs:
    """A flat export that passed every input check, ready to train on (nothing logged yet)."""

    path: Path
    label: str
    frame: pd.DataFrame
    plan: ColumnPlan
    rows: pd.DataFrame
    y: np.ndarray
    set_aside: dict[str, int]
    leaks: list[Leak]
    allowed: list[Leak]
    split: FlatSplit
    started: float  # when the checks began (the run's time counts them)
    suspects: tuple[Leak, ...] = ()
    drop_suspects: bool = False


def check_table(
    path: Path | str,
    *,
    label: str,
    id_column: str | None = None,
    time_column: str | None = None,
    allow_leaky: Iterable[str] = (),
    seed: int = 7,
    dates: str | None = None,
    drop_suspects: bool = False,
) -> FlatInputs:
    """Read a CRM export and run every input check (columns, rows, leaks, split), without side
    effects, so a bad file fails before MLflow's store is touched. Raises ``InputError``.
    ``dates``: "dayfirst" or "monthfirst" for date columns whose values leave it open;
    ``drop_suspects``: leave out the columns with a big near-pure value (named either way)."""
    started = time.perf_counter()
    path = Path(path)
    frame = read_flat_table(path)
    plan = infer_columns(frame, label, id_column, time_column, dates)
    rows, y, set_aside = usable_rows(frame, plan)
    leaks = find_leaky_columns(rows, label, plan, seed=seed)
    allowed = refuse_leaks(leaks, tuple(allow_leaky), list(frame.columns), label)
    suspects = find_suspects(rows, label, plan, leaks)
    if drop_suspects and suspects:
        plan = without_suspects(plan, suspects)
    split = split_rows(rows, y, plan, seed=seed)
    return FlatInputs(
        path,
        label,
        frame,
        plan,
        rows,
        y,
        set_aside,
        leaks,
        allowed,
        split,
        started,
        tuple(suspects),
        drop_suspects,
    )


def without_suspects(plan: ColumnPlan, suspects: Iterable[Leak]) -> ColumnPlan:
    """The plan without the suspects' columns (``--drop-suspects``); refused when nothing
    would be left to train on."""
    reasons = {x.column: f"suspect, dropped (--drop-suspects): {x.evidence}" for x in suspects}
    if len(reasons) >= len(plan.kinds):
        raise InputError(
            f"--drop-suspects would leave no feature column: {', '.join(reasons)} are suspects"
        )
    return plan.without(reasons)
