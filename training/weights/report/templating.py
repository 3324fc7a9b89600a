"""The report's Jinja2 environment: the page and its tables are templates in ``templates/``
(shipped as package data), rendered with autoescape on, so a rule name or description (user
text) is always text on the page, never markup, without escaping each value by hand.

Values are shown through the same helpers as the plain-text report (``format``): ``pct``,
``num``, ``signed``, and ``fmt`` for a format spec (``{{ rows | fmt(",") }}``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from training.weights.report.format import num, pct, signed

__all__ = ["template"]


def _fmt(value: Any, spec: str) -> str:
    return format(value, spec)


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("training.weights.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,  # a value the page names but the data lacks is an error
        keep_trailing_newline=True,
    )
    environment.filters.update(pct=pct, num=num, signed=signed, fmt=_fmt)
    return environment


def template(name: str) -> Template:
    """A template of ``templates/`` by file name."""
    return _environment().get_template(name)
