"""The project's HTML pages (the weights report, the monitor's report): one Jinja2 setup.

Each page is a template shipped as package data beside the module that renders it. Autoescape
is on for every template, so user text (a rule, feature or category name, a model version) is
text on the page, never markup, without escaping each value by hand; an undefined name is an
error (``StrictUndefined``), so a value the page names but the data lacks never shows as blank.
Pages are self-contained (mailed and opened offline): figures go in as PNG data URIs.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from matplotlib.figure import Figure

__all__ = ["environment", "png_data_uri"]


def _fmt(value: Any, spec: str) -> str:
    """``{{ rows | fmt(",") }}``: a value through a format spec, as ``format`` would."""
    return format(value, spec)


def environment(
    package: str, filters: Mapping[str, Callable[..., Any]] | None = None
) -> Environment:
    """The environment of the templates in ``package``'s ``templates/`` folder: autoescape,
    strict undefined names, the ``fmt`` filter plus the page's own ``filters``. Callers cache
    it (templates compile once per process)."""
    made = Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    made.filters.update(fmt=_fmt, **(filters or {}))
    return made


def png_data_uri(fig: Figure, dpi: int) -> str:
    """A figure as a PNG data URI, so the page carries its images inside it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
