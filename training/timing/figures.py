"""Figures of the timing model and the forecast; returned, never saved here (tracking logs
them, the command line writes the forecast's PNG)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

_NAMES = {
    "hazard": "hazard model",
    "oracle": "oracle (true timing)",
    "classifier": "fixed-horizon classifier",
    "classifier_drop": "classifier, open leads dropped",
    "classifier_negative": "classifier, open leads as negatives",
}


_TARGETS = {"mql_to_sql": "SQLs", "sql_to_won": "won deals"}


def brier_figure(
    brier: Mapping[str, Mapping[str, float | int]],
    cumulative: Mapping[str, Sequence[float]] | None = None,
    days: Sequence[float] = (),
) -> Figure:
    """Brier score per horizon for each scorer (left) and, given ``cumulative`` (name -> mean
    P(converted within each of ``days``)), the predicted against the observed curve (right)."""
    figure = Figure(figsize=(11 if cumulative else 6, 4))
    axes = figure.subplots(1, 2 if cumulative else 1)
    left = axes[0] if cumulative else axes
    horizons = list(brier)
    names = [n for n in _NAMES if any(n in brier[h] for h in horizons)]
    width = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        values = [brier[h].get(name, np.nan) for h in horizons]
        left.bar(np.arange(len(horizons)) + k * width, values, width, label=_NAMES[name])
    left.set_xticks(np.arange(len(horizons)) + width * (len(names) - 1) / 2, horizons)
    left.set_xlabel("horizon (days)")
    left.set_ylabel("Brier score (lower is better)")
    left.legend(fontsize=8)
    if cumulative:
        for name, values in cumulative.items():
            axes[1].plot(days, values, label=name)
        axes[1].set_xlabel("days after the decision time")
        axes[1].set_ylabel("share converted")
        axes[1].legend(fontsize=8)
    figure.tight_layout()
    return figure


def forecast_figure(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> Figure:
    """Expected conversions per coming week with the 90% interval, one panel per transition."""
    figure = Figure(figsize=(6 * len(tables), 4))
    axes = figure.subplots(1, len(tables), squeeze=False)
    for axis, (transition, table) in zip(axes[0], tables.items(), strict=True):
        weeks = table[table["kind"] == "week"]
        x = np.arange(len(weeks))
        axis.bar(x, weeks["expected"], color="tab:blue", alpha=0.7, label="expected")
        axis.errorbar(
            x,
            weeks["expected"],
            yerr=[weeks["expected"] - weeks["low"], weeks["high"] - weeks["expected"]],
            fmt="none",
            ecolor="black",
            capsize=3,
            label="90% interval",
        )
        if "actual" in weeks:
            axis.plot(x, weeks["actual"], "o", color="tab:red", label="actual")
        axis.set_xticks(x, [p.removeprefix("week of ") for p in weeks["period"]], rotation=60)
        axis.set_title(f"{transition}: open leads at {pd.Timestamp(as_of):%Y-%m-%d}")
        axis.set_ylabel(f"{_TARGETS.get(transition, 'conversions')} per week")
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure
