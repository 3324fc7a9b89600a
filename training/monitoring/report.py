"""The monitor's report, pure: one self-contained HTML page (inline CSS, figures as PNG data
URIs, no script or external file: it is mailed and opened offline) and the command line's
plain-text summary. Writes nothing.

The page is the template ``templates/report.html.j2`` with its tables (``tables.html.j2``) and
style sheet, rendered through the project's page setup (``training.pages``): autoescape is on,
so a feature or category name, a model version or a run id is text on the page, never markup.
This module only picks what the page shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import pandas as pd
from jinja2 import Environment
from matplotlib.figure import Figure

from training import pages, plots
from training.monitoring import alarms as limits
from training.monitoring.findings import TransitionFindings
from training.monitoring.psi import ACT, MIN_WEEK_ROWS, STABLE

TITLES = {"mql_to_sql": "MQL → SQL", "sql_to_won": "SQL → won"}
SEGMENTS_SHOWN = 15  # segments of the newest matured cohort, largest deviations first
LIMITS = {
    "stable": STABLE,
    "act": ACT,
    "min_week_rows": MIN_WEEK_ROWS,
    "min_gap": limits.MIN_GAP,
    "alpha": limits.ALPHA,
    "auc_drop": limits.AUC_DROP,
    "inflation_margin": limits.INFLATION_MARGIN,
}


def _day(value: object) -> str:
    return pd.Timestamp(value).date().isoformat()


def _number(value: float | None, spec: str = ".3f") -> str:
    """A number through ``spec``, or a dash when it could not be computed (no AUC, no PSI)."""
    return "–" if value is None or pd.isna(value) else format(value, spec)


@cache
def _environment() -> Environment:
    return pages.environment("training.monitoring", {"day": _day, "num": _number})


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict("records")


def _section(found: TransitionFindings, figures: dict[str, Figure]) -> dict[str, Any]:
    """What the page shows of one transition: the judged week's stability and shares, the
    cohorts, the segments that deviate most, the figures as data URIs."""
    psi = found.psi[found.psi["week"] == found.latest_week].sort_values("psi", ascending=False)
    deviation = found.segments["z"].abs().sort_values(ascending=False)
    segments = found.segments.reindex(deviation.index).head(SEGMENTS_SHOWN)
    shares = found.shares[found.shares["week"] == found.latest_week]
    return {
        "found": found,
        "title": TITLES.get(found.transition, found.transition),
        "psi": _records(psi),
        "cohorts": _records(found.cohorts),
        "segments": _records(segments),
        "shares": _records(shares),
        "images": {name: pages.png_data_uri(fig, plots.DPI) for name, fig in figures.items()},
    }


def render_html(
    found: Sequence[TransitionFindings],
    figures: dict[str, dict[str, Figure]],
    *,
    since: pd.Timestamp,
    until: pd.Timestamp,
    known_at: pd.Timestamp,
    outcome_days: dict[str, int],
) -> str:
    """The page: verdict, alarms, then per transition its tables and figures, then how each
    check judges."""
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            since=since,
            until=until,
            known_at=pd.Timestamp(known_at).isoformat(sep=" "),
            alarms=[a for f in found for a in f.alarms],
            sections=[_section(f, figures[f.transition]) for f in found],
            outcome_days=outcome_days,
            limits=LIMITS,
        )
    )


def summary_text(found: Sequence[TransitionFindings]) -> str:
    """The command line's summary: a line per transition, then one per alarm."""
    lines = []
    for f in found:
        week = f.psi[(f.psi["week"] == f.latest_week)]
        worst = week.sort_values("psi", ascending=False).head(1)
        worst_text = (
            f"largest PSI {worst['column'].iloc[0]} {worst['psi'].iloc[0]:.2f}"
            if len(worst)
            else "no leads in the latest week"
        )
        cohort = f.latest_cohort
        cohort_text = (
            "no matured cohort"
            if cohort is None
            else f"cohort {_day(cohort['week'])}: {cohort['observed']:.1%} converted vs "
            f"{cohort['predicted']:.1%} predicted, AUC {_number(cohort['auc'])}"
        )
        lines.append(
            f"{f.transition}: {f.rows:,} leads; {worst_text}; {cohort_text}; "
            f"{len(f.alarms)} alarm(s)"
        )
    lines += [f"ALARM {a.message}" for f in found for a in f.alarms]
    return "\n".join(lines)
