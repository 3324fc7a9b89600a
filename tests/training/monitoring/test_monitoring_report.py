"""The monitor's HTML page on hand-made findings: user text (feature and column names,
category levels, model versions, run ids, alarm messages) shows as text, never markup, and the
page is self-contained: no script, nothing loaded from outside (it is mailed, opened offline).
"""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from training.monitoring.alarms import Alarm
from training.monitoring.findings import TransitionFindings
from training.monitoring.report import render_html

SCRIPT = "<script>alert(1)</script>"
AMPERSAND = '"a&b"'
VERSION = "v3 <b>beta</b>"
WEEK = pd.Timestamp("2025-03-03")


class _Page(HTMLParser):
    """The page as a browser reads it: start tags with their attributes, and the text."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def _findings(*, matured: bool = True, alarms: bool = True) -> TransitionFindings:
    """One transition's findings with user text in every place the page shows it."""
    psi = pd.DataFrame(
        {
            "week": [WEEK, WEEK, WEEK - pd.Timedelta(days=7)],
            "column": [SCRIPT, AMPERSAND, "score"],
            "kind": ["feature", "feature", "score"],
            "rows": [130, 130, 120],
            "psi": [0.31, np.nan, 0.01],
            "band": ["act", "watch", "stable"],
        }
    )
    cohorts = pd.DataFrame(
        {
            "week": [WEEK - pd.Timedelta(days=98)],
            "rows": [200],
            "conversions": [30],
            "predicted": [0.14],
            "observed": [0.15],
            "z": [0.4],
            "auc": [np.nan],
        }
    )
    segments = pd.DataFrame(
        {
            "column": ["industry", SCRIPT],
            "level": [AMPERSAND, SCRIPT],
            "rows": [50, 40],
            "predicted": [0.1, 0.2],
            "observed": [0.3, 0.2],
            "z": [-2.5, 0.1],
        }
    )
    shares = pd.DataFrame(
        {
            "week": [WEEK],
            "threshold": [f"hand-set {AMPERSAND}"],
            "rows": [130],
            "above": [20],
            "share": [0.15],
            "capacity_share": [0.12],
            "capacity_source": ["test data"],
        }
    )
    alarm = Alarm("mql_to_sql", "psi", SCRIPT, "2025-03-03", 0.31, 0.25, f"PSI {SCRIPT} 0.31")
    return TransitionFindings(
        transition="mql_to_sql",
        reference_run=f"run {AMPERSAND}",
        rows=1234,
        set_aside={"not open": 3},
        versions={VERSION: 1000, "": 234},
        psi=psi,
        cohorts=cohorts if matured else cohorts.iloc[:0],
        reliability=pd.DataFrame(),
        segments=segments if matured else segments.iloc[:0],
        shares=shares,
        latest_week=WEEK,
        latest_cohort=cohorts.iloc[-1].to_dict() if matured else None,
        alarms=[alarm] if alarms else [],
        notes=[f"not recorded, so not judged: {SCRIPT}"],
    )


def _page(found: TransitionFindings) -> str:
    tiny = {name: Figure(figsize=(0.5, 0.5)) for name in ("stability", "reliability", "shares")}
    return render_html(
        [found],
        {found.transition: tiny},
        since=WEEK - pd.Timedelta(days=28),
        until=WEEK + pd.Timedelta(days=7),
        known_at=pd.Timestamp("2025-03-10 12:00"),
        outcome_days={"mql_to_sql": 90, "sql_to_won": 120},
    )


@pytest.fixture(scope="module")
def page() -> str:
    return _page(_findings())


def test_user_text_shows_as_text_never_as_markup(page):
    parsed = _Page(page)
    text = "".join(parsed.texts)
    assert {tag for tag, _ in parsed.tags}.isdisjoint({"script", "b"})
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # feature name, alarm message, note, segment column and level: each read back as typed
    assert text.count(SCRIPT) == 5
    assert text.count(AMPERSAND) == 4  # feature name, level, threshold, run id
    assert f"{VERSION} (1000), folder (234)" in text


def test_the_page_shows_verdict_tables_figures_and_method(page):
    text = " ".join(" ".join(_Page(page).texts).split())
    assert "1 alarm" in text and "MQL → SQL" in text
    assert "1,234 leads judged" in text
    assert "Newest matured cohort from 2024-11-25: 200 leads, 15.0% converted against 14.0%" in text
    assert "Population stability, week from 2025-03-03" in text
    # the judged week only, worst first, a missing PSI (or AUC) as a dash
    psi_rows = f"{SCRIPT} feature 130 0.310 act {AMPERSAND} feature 130 – watch Matured cohorts"
    assert f"column kind rows psi band {psi_rows}" in text
    assert "z auc 2024-11-25 200 30 0.140 0.150 +0.4 – " in text
    assert f"industry {AMPERSAND} 50 0.100 0.300 -2.5 {SCRIPT} {SCRIPT} 40" in text
    assert "mql_to_sql 90 days, sql_to_won 120 days" in text and "differ by 5% or" in text
    assert page.count("<table>") == 4 and page.count("data:image/png;base64,") == 3


def test_page_has_no_script_and_loads_nothing_from_outside(page):
    parsed = _Page(page)
    assert "<script" not in page.lower()
    links = [
        (tag, name, value)
        for tag, attrs in parsed.tags
        for name, value in attrs.items()
        if name in {"src", "href", "srcset", "action", "data"}
    ]
    assert len(links) == 4  # the three figures and the icon
    assert all((value or "").startswith("data:") for _, _, value in links), links
    assert [tag for tag, _ in parsed.tags].count("style") == 1 and "@import" not in page
    assert {tag for tag, _ in parsed.tags}.isdisjoint({"script", "iframe", "object", "embed"})


def test_no_alarm_and_no_matured_cohort_are_said_not_left_blank():
    page = _page(_findings(matured=False, alarms=False))
    text = " ".join(" ".join(_Page(page).texts).split())
    assert "no alarm" in text and "class=alarms" not in page
    assert "No cohort has matured yet." in text
    assert text.count("nothing to show") == 2  # cohorts and segments
