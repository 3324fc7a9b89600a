"""When a finding is an alarm. Each run judges the newest evidence only: the week that ended at
``until`` for stability and inflation, the newest matured cohort for calibration and AUC. A
shift that persists therefore alarms every week until it is dealt with, and one unlucky week
alarms once, not in every later run that still shows it.

The limits trade missed shifts against false alarms. Stability uses the usual bands (act above
0.25) on weeks of at least ``psi.MIN_WEEK_ROWS`` leads, and asks that chance alone could not
explain the value: for a column of many bins a small week scatters widely (the sampled PSI
times the effective rows is about chi-squared with bins - 1 degrees of freedom). The
statistical checks hold the chance
that a clean week raises an alarm at ``ALPHA`` per check (Bonferroni across the segments of
the calibration check) and also ask for a difference large enough to matter (``MIN_GAP``,
``AUC_DROP``, ``INFLATION_MARGIN``), so a large cohort does not alarm on a trivial difference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from scipy.stats import chi2, norm

from training.monitoring.psi import ACT, MIN_WEEK_ROWS

ALPHA = 0.001
MIN_GAP = 0.05  # calibration: observed and predicted conversion this far apart at least
AUC_DROP = 0.05  # AUC at least this far below the test data's
INFLATION_MARGIN = 0.10  # share above the threshold at least 10 % over what it was set for


@dataclass(frozen=True)
class Alarm:
    """Attributes:
    transition: the model; check: "psi", "calibration", "auc" or "inflation"; subject: the
    column, segment or threshold; week: start of the week or cohort judged (ISO date);
    value and limit: what was found and what it may not pass; message: one line to read.
    """

    transition: str
    check: str
    subject: str
    week: str
    value: float
    limit: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _day(week: pd.Timestamp) -> str:
    return pd.Timestamp(week).date().isoformat()


def psi_chance(rows: int, reference_rows: int, bins: int, tests: int) -> float:
    """The PSI chance alone exceeds with probability ``ALPHA`` / ``tests``, for a week of
    ``rows`` against a reference of ``reference_rows`` in ``bins`` bins."""
    effective = 1 / (1 / max(rows, 1) + 1 / max(reference_rows, 1))
    return float(chi2.isf(ALPHA / max(tests, 1), max(bins - 1, 1)) / effective)


def psi_alarms(transition: str, table: pd.DataFrame, week: pd.Timestamp) -> list[Alarm]:
    """A column whose PSI in ``week`` is in the act band and beyond chance (Bonferroni over
    the week's columns), if the week had enough leads."""
    latest = table[(table["week"] == week) & table["judged"]]
    alarms = []
    for row in latest.itertuples():
        limit = max(ACT, psi_chance(row.rows, row.reference_rows, row.bins, len(latest)))
        if row.psi > limit:
            alarms.append(
                Alarm(
                    transition,
                    "psi",
                    row.column,
                    _day(week),
                    row.psi,
                    limit,
                    f"{transition}: {row.kind} {row.column} moved, PSI {row.psi:.2f} > "
                    f"{limit:.2f} in the week from {_day(week)} ({row.rows} leads)",
                )
            )
    return alarms


def calibration_alarms(
    transition: str, cohort: Mapping[str, Any], segments: pd.DataFrame
) -> list[Alarm]:
    """The newest matured cohort, in total and per segment: observed conversion off the
    predicted by more than ``MIN_GAP`` and beyond chance (|z| over the Bonferroni limit)."""
    tests = [("all leads", cohort["rows"], cohort["predicted"], cohort["observed"], cohort["z"])]
    tests += [
        (f"{s.column}={s.level}", s.rows, s.predicted, s.observed, s.z)
        for s in segments.itertuples()
    ]
    limit = float(norm.isf(ALPHA / (2 * len(tests))))
    alarms = []
    for subject, rows, predicted, observed, z in tests:
        if abs(z) > limit and abs(observed - predicted) >= MIN_GAP:
            alarms.append(
                Alarm(
                    transition,
                    "calibration",
                    subject,
                    _day(cohort["week"]),
                    observed - predicted,
                    MIN_GAP,
                    f"{transition}: {subject} converted {observed:.1%} against {predicted:.1%} "
                    f"predicted in the cohort from {_day(cohort['week'])} ({rows} leads, "
                    f"z {z:+.1f}, limit {limit:.1f})",
                )
            )
    return alarms


def auc_alarms(transition: str, cohort: Mapping[str, Any], reference_auc: float) -> list[Alarm]:
    """The newest matured cohort ranks leads worse than the test data did: AUC at least
    ``AUC_DROP`` lower and the drop beyond chance (one-sided)."""
    auc, se = cohort["auc"], cohort["auc_se"]
    if not (math.isfinite(auc) and math.isfinite(se)) or se <= 0:
        return []
    drop = reference_auc - auc
    if drop < AUC_DROP or drop / se <= norm.isf(ALPHA):
        return []
    return [
        Alarm(
            transition,
            "auc",
            "ROC-AUC",
            _day(cohort["week"]),
            auc,
            reference_auc - AUC_DROP,
            f"{transition}: ROC-AUC {auc:.3f} against {reference_auc:.3f} on the test data "
            f"in the cohort from {_day(cohort['week'])} ({cohort['rows']} leads)",
        )
    ]


def inflation_alarms(transition: str, shares: pd.DataFrame, week: pd.Timestamp) -> list[Alarm]:
    """More leads cross a threshold in ``week`` than it was set for: beyond the sales capacity
    when one is given; else over the test data's share by ``INFLATION_MARGIN`` and beyond
    chance (two samples: the week's leads and the test rows the share was measured on)."""
    alarms = []
    for row in shares[shares["week"] == week].itertuples():
        if row.rows < MIN_WEEK_ROWS:
            continue
        if row.capacity_source == "sales capacity":
            fired = row.share > row.capacity_share
        else:
            p = row.capacity_share
            spread = math.sqrt(p * (1 - p) * (1 / row.rows + 1 / max(row.reference_rows, 1)))
            z = (row.share - p) / spread if spread > 0 else 0.0
            fired = row.share > row.capacity_share * (1 + INFLATION_MARGIN) and z > norm.isf(ALPHA)
        if fired:
            alarms.append(
                Alarm(
                    transition,
                    "inflation",
                    row.threshold,
                    _day(week),
                    row.share,
                    row.capacity_share,
                    f"{transition}: {row.share:.1%} of leads crossed the {row.threshold} "
                    f"threshold in the week from {_day(week)} ({row.above} of {row.rows}); "
                    f"it was set for {row.capacity_share:.1%} ({row.capacity_source})",
                )
            )
    return alarms
