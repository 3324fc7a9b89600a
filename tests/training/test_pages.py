"""The pages' one Jinja2 setup: values are escaped, a name the data lacks is an error, and
every templates folder is shipped as package data (an installed wheel renders its pages)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import jinja2
import pytest

from training import pages

ROOT = Path(__file__).resolve().parents[2]


def test_values_are_escaped_and_a_missing_name_is_an_error():
    environment = pages.environment("training.monitoring", {"shout": str.upper})
    page = environment.from_string("<p title='{{ name }}'>{{ name | shout }} {{ n | fmt(',') }}")
    assert page.render(name="<b>'a&b'</b>", n=1234) == (
        "<p title='&lt;b&gt;&#39;a&amp;b&#39;&lt;/b&gt;'>&lt;B&gt;&#39;A&amp;B&#39;&lt;/B&gt; 1,234"
    )
    with pytest.raises(jinja2.UndefinedError, match="'missing' is undefined"):
        environment.from_string("{{ missing }}").render()


def test_every_templates_folder_is_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = config["tool"]["setuptools"]["package-data"]
    folders = sorted(
        p.parent
        for room in ("training", "serving", "features")
        for p in (ROOT / room).rglob("*.j2")
    )
    packages = {".".join(f.parent.relative_to(ROOT).parts) for f in folders}
    assert packages >= {"training.monitoring", "training.weights.report"}
    assert all("templates/*" in shipped.get(package, []) for package in packages), shipped
