"""The monitor's figures, pure: each takes one transition's findings and returns a matplotlib
``Figure`` (no pyplot state, no files); the report embeds them and MLflow gets them.

- stability: PSI by week, one line per column, the score in bold, with the 0.1 and 0.25 bands;
- reliability: predicted against observed conversion per matured cohort (the diagonal is a
  calibrated model);
- shares: the share of leads above each threshold per week against the share it was set for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from training import plots
from training.monitoring.findings import TransitionFindings
from training.monitoring.psi import ACT, STABLE

MOST_MOVED = 8  # feature lines drawn besides the scores (the most moved ones)


def _figure(title: str) -> tuple[Figure, object]:
    fig = Figure(figsize=plots.FIGSIZE_IN, dpi=plots.DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig, ax


def stability_figure(found: TransitionFindings) -> Figure:
    """PSI by week: the scores and the features that moved most."""
    fig, ax = _figure(f"{found.transition}: population stability by week (PSI)")
    table = found.psi
    features = table[table["kind"] == "feature"]
    peak = features.groupby("column")["psi"].max().sort_values(ascending=False)
    shown = [*table.loc[table["kind"] == "score", "column"].unique(), *peak.index[:MOST_MOVED]]
    for column in shown:
        rows = table[table["column"] == column].sort_values("week")
        is_score = column in ("probability", "hand_set_points")
        ax.plot(
            rows["week"],
            rows["psi"],
            marker="o",
            linewidth=2.5 if is_score else 1.2,
            label=f"score: {column}" if is_score else column,
        )
    ax.axhspan(STABLE, ACT, color="#fff3c4", alpha=0.6, label="watch (0.1-0.25)")
    ax.axhline(ACT, color="#d64545", linestyle="--", linewidth=1, label="act (> 0.25)")
    ax.set_yscale("symlog", linthresh=0.1)  # the bands readable, a dropped field still shown
    top = float(table["psi"].max()) if len(table) else 0.0
    ax.set_ylim(0, max(0.4, top * 1.3))
    ticks = [t for t in (0, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20) if t <= max(0.4, top * 1.3)]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlabel("week starting")
    ax.set_ylabel("PSI against the training data")
    ax.legend(loc="upper left", fontsize="small", ncol=2)
    fig.autofmt_xdate()
    return fig


def reliability_figure(found: TransitionFindings) -> Figure:
    """Predicted against observed conversion, one line per matured cohort."""
    fig, ax = _figure(f"{found.transition}: reliability per matured cohort")
    table = found.reliability
    weeks = sorted(table["week"].unique())
    colours = _shades(len(weeks))
    for week, colour in zip(weeks, colours, strict=True):
        rows = table[table["week"] == week]
        label = f"cohort from {pd.Timestamp(week).date()}"
        ax.plot(rows["predicted"], rows["observed"], marker="o", color=colour, label=label)
    top = float(np.nanmax([table["predicted"].max(), table["observed"].max(), 0.05]))
    ax.plot([0, top], [0, top], **plots.REFERENCE_STYLE, label="calibrated")
    ax.set_xlabel("predicted probability (mean of a fifth of the cohort)")
    ax.set_ylabel("observed conversion")
    if weeks:
        ax.legend(loc="upper left", fontsize="small")
    return fig


def shares_figure(found: TransitionFindings) -> Figure:
    """Share of leads above each threshold per week, and the share it was set for."""
    fig, ax = _figure(f"{found.transition}: leads crossing the thresholds per week")
    for k, (threshold, rows) in enumerate(found.shares.groupby("threshold", sort=True)):
        colour = f"C{k}"
        ax.plot(rows["week"], rows["share"], marker="o", color=colour, label=f"{threshold}")
        ax.plot(
            rows["week"],
            rows["capacity_share"],
            linestyle="--",
            color=colour,
            label=f"{threshold}: set for ({rows['capacity_source'].iloc[0]})",
        )
    ax.set_xlabel("week starting")
    ax.set_ylabel("share of the week's leads")
    ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    return fig


def _shades(n: int) -> list:
    """``n`` colours from light (old cohorts) to dark (the newest)."""
    return [colormaps["Blues"](0.35 + 0.65 * k / max(n - 1, 1)) for k in range(n)]


def figures(found: TransitionFindings) -> dict[str, Figure]:
    """The transition's figures by name (file names in MLflow: ``<transition>_<name>.png``)."""
    return {
        "stability": stability_figure(found),
        "reliability": reliability_figure(found),
        "shares": shares_figure(found),
    }
