"""The weights comparison as one self-contained HTML page a marketer reads.

``render_html`` turns a ``WeightsComparison`` (or its ``to_dict()``, which is all the API holds)
into one page: inline CSS, figures as base64 PNG data URIs, the learned rules file as a download
link, no script, no external font, style sheet or image (the machines have no internet, and a
marketer may open the file from a mail). The page is the template ``templates/report.html.j2``
(autoescaped: rule names and descriptions are user text); this module gathers what it shows.
Pure: returns the text, writes nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from training import pages, plots
from training.weights.compare import WeightsComparison
from training.weights.report.figures import figures
from training.weights.report.format import report_data
from training.weights.report.templating import template
from training.weights.report.text import learned_rules_text

__all__ = ["TRANSITION_TITLES", "render_html", "render_not_available"]

TRANSITION_TITLES = {"mql_to_sql": "MQL → SQL", "sql_to_won": "SQL → won"}


def _cards(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The headline cards (value, what it counts): what a marketer needs before any table."""
    flagged = [r for r in data["rules"] if r["flagged"]]
    by_method = {row["method"]: row for row in data["capacity"]}
    learned, model = by_method["learned points"], by_method["LightGBM model"]
    months = data["periods"]["test_months"]
    return [
        (f"{len(flagged)} of {len(data['rules'])}", "rules the data contradicts (sign or size)"),
        (
            f"{learned['extra_conversions']:+,.0f}",
            f"conversions with the learned points over {months:.1f} test months",
        ),
        (
            f"{model['extra_conversions']:+,.0f}",
            "conversions with the LightGBM model, same number of leads",
        ),
        (f"{data['capacity_per_month']:,.0f}", "leads a month sales takes (capacity)"),
    ]


def render_html(comparison: WeightsComparison | Mapping[str, Any]) -> str:
    """One self-contained page (tables, embedded plots, download of the learned rules)."""
    data = report_data(comparison)
    title = TRANSITION_TITLES.get(data["transition"], data["transition"])
    images = {name: pages.png_data_uri(fig, plots.DPI) for name, fig in figures(data).items()}
    yaml_uri = "data:text/yaml;charset=utf-8;base64," + base64.b64encode(
        learned_rules_text(data).encode("utf-8")
    ).decode("ascii")
    return template("report.html.j2").render(
        data=data, title=title, images=images, yaml_uri=yaml_uri, cards=_cards(data)
    )


def render_not_available(message: str) -> str:
    """The page shown before any weights report exists, saying ``message``."""
    return template("not_available.html.j2").render(message=message)
