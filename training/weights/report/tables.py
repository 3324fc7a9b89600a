"""The weights report's HTML tables: rules, capacity and uncovered signals.

Each is a macro of ``templates/tables.html.j2`` (autoescaped), rendered from the comparison's
``to_dict()``; the page (``training.weights.report.html``) uses the same macros, and these
functions render one table alone so each can be read and tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from training.weights.report.templating import template

__all__ = ["capacity_table", "rules_table", "uncovered_table"]


def _table(name: str, data: Mapping[str, Any]) -> str:
    return str(getattr(template("tables.html.j2").module, name)(data))


def rules_table(data: Mapping[str, Any]) -> str:
    """The main table: one row per hand-set rule."""
    return _table("rules_table", data)


def capacity_table(data: Mapping[str, Any]) -> str:
    """One row per score (hand-set, learned, model) at the same sales capacity."""
    return _table("capacity_table", data)


def uncovered_table(data: Mapping[str, Any]) -> str:
    """The strong model signals no rule is built from: candidates for new rules."""
    return _table("uncovered_table", data)
