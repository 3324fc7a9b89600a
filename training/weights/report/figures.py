"""The weights report's figures as pure functions returning matplotlib figures.

Each takes the comparison's ``to_dict()`` and returns a ``Figure`` (no pyplot state, no files),
so notebooks can show them and ``training.weights.report.html`` can embed them in the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

from training import plots
from training.weights.compare import WeightsComparison
from training.weights.report.format import report_data

__all__ = ["capacity_plot", "figures", "uncovered_plot", "weights_plot"]


def weights_plot(data: Mapping[str, Any]) -> Figure:
    """Hand-set vs learned points per rule, with the bootstrap interval when there is one."""
    rules = data["rules"]
    lower = [r["learned_lower"] for r in rules]
    upper = [r["learned_upper"] for r in rules]
    has_interval = all(v is not None for v in lower + upper)
    fig = plots.weights_figure(
        [r["name"] for r in rules],
        [r["hand_set_points"] for r in rules],
        [r["learned_points"] for r in rules],
        lower if has_interval else None,
        upper if has_interval else None,
    )
    fig.set_size_inches(plots.FIGSIZE_IN[0], max(plots.FIGSIZE_IN[1], 0.32 * len(rules) + 1.5))
    return fig


def capacity_plot(data: Mapping[str, Any]) -> Figure:
    """Conversions caught on the test period by leads passed per month, for each score."""
    fig = Figure(figsize=plots.FIGSIZE_IN, dpi=plots.DPI, layout="constrained")
    ax = fig.add_subplot()
    for method, curve in data["curves"].items():
        (line,) = ax.plot(curve["leads_per_month"], curve["conversions"], linewidth=2, label=method)
        row = next(r for r in data["capacity"] if r["method"] == method)
        ax.plot(row["passed_per_month"], row["conversions"], "o", color=line.get_color())
    ax.axvline(
        data["capacity_per_month"],
        **plots.REFERENCE_STYLE,
        label=f"sales capacity ({data['capacity_per_month']:,.0f} leads a month)",
    )
    ax.set_title(
        f"Conversions caught, test period {data['periods']['test_from'][:10]} to "
        f"{data['periods']['test_to'][:10]}\n(dots: each score at its threshold)"
    )
    ax.set_xlabel("leads passed to sales per month (best-scored first)")
    ax.set_ylabel("converted leads among them (test period)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return fig


def uncovered_plot(data: Mapping[str, Any]) -> Figure | None:
    """Strength of the signals no rule covers, on the points scale; None when there are none."""
    signals = data["uncovered"]
    if not signals:
        return None
    fig = Figure(figsize=(plots.FIGSIZE_IN[0], 4.5), dpi=plots.DPI, layout="constrained")
    ax = fig.add_subplot()
    names = [s["feature"] for s in signals][::-1]
    ax.barh(names, [s["points"] for s in signals][::-1], color="C1")
    ax.set_title("Strong model signals that no hand-set rule covers")
    ax.set_xlabel("average effect on a lead's score (learned points; mean |SHAP| x scale)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def figures(comparison: WeightsComparison | Mapping[str, Any]) -> dict[str, Figure]:
    """The report's figures by name (notebooks show them, the page embeds them)."""
    data = report_data(comparison)
    out = {"weights": weights_plot(data), "capacity": capacity_plot(data)}
    uncovered = uncovered_plot(data)
    if uncovered is not None:
        out["uncovered"] = uncovered
    return out
