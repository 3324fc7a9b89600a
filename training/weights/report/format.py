"""Value formatting the weights report's HTML page and plain text share.

Kept in one place so the page, its tables and the CLI text show a number the same way (a dash
for a missing value, "<1%" rather than a misleading "0%"). Pure; the page's escaping is the
templates' (autoescape), not done here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from training.weights.compare import WeightsComparison

__all__ = ["num", "pct", "report_data", "signed"]


def report_data(comparison: WeightsComparison | Mapping[str, Any]) -> Mapping[str, Any]:
    """The comparison as its ``to_dict()``: the API only holds the dict, so every renderer
    works from that form and a live comparison renders exactly like a stored one."""
    return comparison.to_dict() if isinstance(comparison, WeightsComparison) else comparison


def num(value: float | None, fmt: str = "{:.1f}") -> str:
    """A number, or a dash when it could not be computed (no interval, no AUC)."""
    return "–" if value is None else fmt.format(value)


def pct(value: float | None) -> str:
    """A share as a percent; tiny non-zero shares read "<1%" so they do not look like none."""
    if value is None:
        return "–"
    return "<1%" if 0 < value < 0.005 else f"{value:.0%}"


def signed(value: float | None) -> str:
    """Points with their sign, since a negative learned point is the finding."""
    return num(value, "{:+.1f}")
