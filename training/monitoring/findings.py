"""Everything the monitor finds about one transition, from frames already read: pure.

``find`` runs the weekly stability table, the matured cohorts' calibration and AUC, the
segments of the newest matured cohort, the threshold shares and the alarms on them, and says
in ``notes`` what it could not judge and why (never an empty table shown as healthy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from training.monitoring import alarms as judge
from training.monitoring.calibration import cohort_table, reliability, segment_table
from training.monitoring.cohorts import WEEK
from training.monitoring.inflation import weekly_shares
from training.monitoring.psi import MIN_WEEK_ROWS, not_recorded, weekly_psi


@dataclass
class TransitionFindings:
    """Attributes:
    transition, reference_run: the model and the run whose training data is the reference.
    rows: leads judged (first open score in the period); set_aside: other rows by reason.
    versions: leads scored by each model version.
    psi: week x column stability; cohorts: matured cohorts' calibration and AUC;
    reliability: their reliability bins; segments: the newest matured cohort by segment;
    shares: week x threshold shares against capacity.
    latest_week: start of the week judged for stability and inflation; latest_cohort: the
        newest matured cohort's row of ``cohorts`` (None when none has matured).
    alarms: what fired; notes: what could not be judged, and why.
    """

    transition: str
    reference_run: str
    rows: int
    set_aside: dict[str, int]
    versions: dict[str, int]
    psi: pd.DataFrame
    cohorts: pd.DataFrame
    reliability: pd.DataFrame
    segments: pd.DataFrame
    shares: pd.DataFrame
    latest_week: pd.Timestamp
    latest_cohort: dict[str, Any] | None
    alarms: list[judge.Alarm] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: what the store keeps, the gauges show and ``--json`` prints."""
        week = self.psi[self.psi["week"] == self.latest_week]
        shares = self.shares[self.shares["week"] == self.latest_week]
        cohort = self.latest_cohort
        return {
            "reference_run": self.reference_run,
            "rows": self.rows,
            "set_aside": self.set_aside,
            "versions": self.versions,
            "latest_week": {
                "from": self.latest_week.isoformat(),
                "rows": int(week["rows"].max()) if len(week) else 0,
                "psi": {r.column: _number(r.psi) for r in week.itertuples()},
            },
            "shares": {
                r.threshold: {"share": r.share, "capacity_share": r.capacity_share}
                for r in shares.itertuples()
            },
            "latest_cohort": None
            if cohort is None
            else {
                "from": pd.Timestamp(cohort["week"]).isoformat(),
                "rows": int(cohort["rows"]),
                "predicted": cohort["predicted"],
                "observed": cohort["observed"],
                "z": cohort["z"],
                "auc": _number(cohort["auc"]),
            },
            "alarms": [a.check for a in self.alarms],
            "notes": list(self.notes),
        }


def _number(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def find(
    transition: str,
    frame: pd.DataFrame,
    reference: Mapping[str, Any],
    *,
    reference_run: str,
    until: pd.Timestamp,
    outcome_days: int,
    capacity_per_week: float | None,
    set_aside: Mapping[str, int] | None = None,
) -> TransitionFindings:
    """The findings of one transition. ``frame``: ``cohorts.with_outcomes``' frame."""
    notes = []
    latest_week = until - WEEK
    psi = weekly_psi(frame, reference)
    missing = not_recorded(reference, frame)
    if missing:
        notes.append(f"not recorded, so not judged: {', '.join(missing)}")
    in_latest = int((frame["week"] == latest_week).sum())
    if in_latest < MIN_WEEK_ROWS:
        notes.append(
            f"the week from {latest_week.date()} had {in_latest} leads; stability and "
            f"inflation are judged on weeks of {MIN_WEEK_ROWS} or more"
        )
    unknown = int((frame["matured"] & ~frame["known"]).sum())
    if unknown:
        notes.append(
            f"{unknown} matured leads are not in the outcome data (lead ids unknown to the "
            "CRM export); left out of calibration"
        )
    cohorts = cohort_table(frame)
    latest_cohort = cohorts.iloc[-1].to_dict() if len(cohorts) else None
    segments = pd.DataFrame(columns=["column", "level", "rows", "predicted", "observed", "z"])
    if latest_cohort is None:
        notes.append(
            f"no cohort has matured: outcomes are judged {outcome_days} days after scoring"
        )
    else:
        categorical = [
            name for name, spec in reference["features"].items() if spec["kind"] == "categorical"
        ]
        segments = segment_table(frame[frame["week"] == latest_cohort["week"]], categorical)
    shares = weekly_shares(frame, reference, transition, capacity_per_week=capacity_per_week)

    found = judge.psi_alarms(transition, psi, latest_week)
    found += judge.inflation_alarms(transition, shares, latest_week)
    if latest_cohort is not None:
        found += judge.calibration_alarms(transition, latest_cohort, segments)
        found += judge.auc_alarms(transition, latest_cohort, reference["roc_auc"])
    return TransitionFindings(
        transition=transition,
        reference_run=reference_run,
        rows=len(frame),
        set_aside=dict(set_aside or {}),
        versions={str(k): int(v) for k, v in frame["version"].value_counts().items()},
        psi=psi,
        cohorts=cohorts,
        reliability=reliability(frame),
        segments=segments,
        shares=shares,
        latest_week=latest_week,
        latest_cohort=latest_cohort,
        alarms=found,
        notes=notes,
    )
