"""The report's templates: the page and its tables are in ``templates/``, rendered through the
project's one page setup (``training.pages``: autoescape on, so a rule name or description,
user text, is always text on the page, never markup).

Values are shown through the same helpers as the plain-text report (``format``): ``pct``,
``num``, ``signed``, and ``fmt`` for a format spec (``{{ rows | fmt(",") }}``).
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, Template

from training import pages
from training.weights.report.format import num, pct, signed

__all__ = ["template"]


@cache
def _environment() -> Environment:
    return pages.environment("training.weights.report", {"pct": pct, "num": num, "signed": signed})


def template(name: str) -> Template:
    """A template of ``templates/`` by file name."""
    return _environment().get_template(name)
