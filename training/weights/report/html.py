"""The weights comparison as one self-contained HTML page a marketer reads.

``render_html`` turns a ``WeightsComparison`` (or its ``to_dict()``, which is all the API holds)
into one page: inline CSS, figures as base64 PNG data URIs, the learned rules file as a download
link, no script, no external font, style sheet or image (the machines have no internet, and a
marketer may open the file from a mail). Pure: returns the text, writes nothing.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

from training import plots
from training.weights.compare import WeightsComparison
from training.weights.report.figures import figures
from training.weights.report.format import esc, report_data
from training.weights.report.tables import capacity_table, rules_table, uncovered_table
from training.weights.report.text import learned_rules_text

__all__ = ["TRANSITION_TITLES", "render_html"]

TRANSITION_TITLES = {"mql_to_sql": "MQL → SQL", "sql_to_won": "SQL → won"}
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; color: #1f2933; margin: 0; background: #f5f7fa; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 1.6rem; margin: 0.2rem 0 0.4rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 2px solid #e4e7eb;
  padding-bottom: 4px; }
p.lead { color: #52606d; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { flex: 1 1 220px; border: 1px solid #e4e7eb; border-radius: 8px; padding: 12px 14px; }
.card b { display: block; font-size: 1.5rem; }
.card span { color: #52606d; font-size: 0.9rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; margin: 8px 0 12px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e4e7eb;
  vertical-align: top; }
th { background: #f0f4f8; position: sticky; top: 0; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
th.num { text-align: right; }
.scroll { overflow-x: auto; }
td.rule { min-width: 170px; } td.verdict { min-width: 250px; max-width: 340px; }
td small { color: #7b8794; display: block; }
tr.flagged td:first-child { box-shadow: inset 4px 0 0 #d64545; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.8rem;
  font-weight: 600; white-space: nowrap; }
.ok { background: #e3f9e5; color: #207227; } .neutral { background: #e4e7eb; color: #3e4c59; }
.warn { background: #fff3c4; color: #8d5b00; } .bad { background: #ffe3e3; color: #a61b1b; }
figure { margin: 12px 0 20px; } figure img { max-width: 100%; height: auto;
  border: 1px solid #e4e7eb; border-radius: 6px; }
figcaption { color: #52606d; font-size: 0.85rem; }
a.download { display: inline-block; background: #2680c2; color: #fff; padding: 6px 14px;
  border-radius: 6px; text-decoration: none; font-weight: 600; }
.method li { margin-bottom: 6px; } code { background: #f0f4f8; padding: 0 3px; }
"""


def _png(fig: Figure) -> str:
    """A figure as a PNG data URI, so the page carries its images inside it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=plots.DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _threshold_note(data: Mapping[str, Any]) -> str:
    """The hand-set threshold was set for MQL → SQL; say how to read it for later transitions."""
    if data["transition"] == "mql_to_sql":
        return ""
    return (
        " The hand-set threshold was set for the hand-over to sales; here it reads as the deals "
        "sales would focus on."
    )


def _summary(data: Mapping[str, Any]) -> str:
    """The headline cards: what a marketer needs before reading any table."""
    flagged = [r for r in data["rules"] if r["flagged"]]
    by_method = {row["method"]: row for row in data["capacity"]}
    learned, model = by_method["learned points"], by_method["LightGBM model"]
    months = data["periods"]["test_months"]
    cards = [
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
    return (
        "<div class=cards>"
        + "".join(f"<div class=card><b>{esc(v)}</b><span>{esc(t)}</span></div>" for v, t in cards)
        + "</div>"
    )


def _method(data: Mapping[str, Any]) -> str:
    """How the numbers were computed, with this run's settings, so the page stands alone."""
    s = data["settings"]
    scale = data["scale"]
    items = [
        "<b>Signal.</b> Every rule is scored exactly as in your rules file (what counts, "
        "window, decay, cap) at one point: attribute and behaviour rules give 0 or 1, touch "
        "rules the decayed, capped number of matching touches. Only the points are learned.",
        f"<b>Learned points.</b> A logistic regression of the outcome on all rule signals at "
        f"once (weak L2 penalty {s['l2_penalty']:g}), fitted on the "
        f"{data['periods']['fit_rows']:,} older decisions. A rule's learned points are what it "
        "adds once the other rules are counted, so two rules that fire together share credit.",
        f"<b>Scale.</b> Points = {scale:.1f} × log-odds ({esc(data['scale_method'])}): the "
        f"threshold of {data['threshold']:g} keeps its meaning, and every {scale * 0.693:.0f} "
        "learned points double a lead's odds of converting.",
        f"<b>Interval.</b> {s['bootstrap']} bootstrap resamples of the older decisions (seed "
        f"{s['seed']}); each refits points and scale. Rules firing on fewer than "
        f"{s['min_fires']} leads keep their hand-set points.",
        "<b>Verdict.</b> Flagged when the interval excludes the hand-set points by more than "
        "2 points or a quarter of them: <i>wrong sign</i>, <i>no effect found</i> (interval "
        "holds 0), <i>too strong</i> or <i>too weak</i>.",
        f"<b>Model's view.</b> The LightGBM model ({esc(s['model'])}) explains "
        f"{s['shap_rows']:,} decisions with SHAP values; for each rule, the SHAP values of the "
        "features the rule is built from, averaged where it fires minus where it does not, per "
        "unit of signal, on the points scale.",
        "<b>Capacity.</b> Thresholds for the learned points and the model are set on older "
        "decisions for the capacity, then applied to the newest ones (test period). The fair "
        "comparison is the conversions among the same number of best-scored leads.",
        "<b>Caveat.</b> Points describe your history, not cause and effect: a rule that only "
        "travels with a real signal (for example a touch that is also recent engagement) can "
        "earn points without causing conversions.",
    ]
    return "<ul class=method>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def render_html(comparison: WeightsComparison | Mapping[str, Any]) -> str:
    """One self-contained page (tables, embedded plots, download of the learned rules)."""
    data = report_data(comparison)
    title = TRANSITION_TITLES.get(data["transition"], data["transition"])
    images = {name: _png(fig) for name, fig in figures(data).items()}
    periods = data["periods"]
    yaml_uri = "data:text/yaml;charset=utf-8;base64," + base64.b64encode(
        learned_rules_text(data).encode("utf-8")
    ).decode("ascii")
    uncovered_img = (
        f"<figure><img src='{images['uncovered']}' alt='bar chart of uncovered signals'></figure>"
        if "uncovered" in images
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Lead score weights: hand-set vs learned ({esc(title)})</title>
<style>{_CSS}</style></head>
<body><main>
<h1>Your lead-score points vs what your history supports ({esc(title)})</h1>
<p class=lead>{periods["fit_rows"]:,} decisions from {esc(periods["fit_from"][:10])} to
{esc(periods["test_from"][:10])} set the learned points; the newest {periods["test_rows"]:,}
(to {esc(periods["test_to"][:10])}, {periods["test_conversions"]:,} conversions) test them.
Threshold: {data["threshold"]:g} points.{_threshold_note(data)}</p>
{_summary(data)}
<p><a class=download download="learned_rules.yaml" href="{yaml_uri}">Download the learned
rules file</a> — the same format as your hand-set file (threshold
{data["learned_threshold"]:g}); use it as <code>LEADSCORE_RULES_PATH</code> to adopt it.</p>
<h2>1. Rule by rule</h2>
<p>Points per firing (per touch for touch rules). Flagged rows (red edge) are contradicted by
the data. "Model's view" is what the LightGBM model implicitly gives the rule, on the same
scale.</p>
{rules_table(data)}
<figure><img src="{images["weights"]}" alt="bar chart of hand-set and learned points per rule">
<figcaption>Grey: hand-set points; blue: learned points with their 95 % interval.</figcaption>
</figure>
<h2>2. What it would change for sales</h2>
<p>Sales takes {data["capacity_per_month"]:,.0f} leads a month
({"as many as the hand-set threshold passed" if data["capacity_is_default"] else "as set"});
the test period covers {periods["test_months"]:.1f} months.</p>
{capacity_table(data)}
<figure><img src="{images["capacity"]}" alt="conversions caught by leads passed per month">
</figure>
<h2>3. Signals no hand-set rule covers</h2>
<p>Features the model leans on that none of your rules is built from (for an attribute a rule
tests, only the values no rule scores). Candidates for new rules.</p>
{uncovered_table(data)}
{uncovered_img}
<h2>4. How this was computed</h2>
{_method(data)}
</main></body></html>
"""
