"""The monitor's report, pure: one self-contained HTML page (inline CSS, figures as PNG data
URIs, no script or external file: it is mailed and opened offline) and the command line's
plain-text summary. Writes nothing.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure

from training import plots
from training.monitoring import alarms as limits
from training.monitoring.findings import TransitionFindings
from training.monitoring.psi import ACT, MIN_WEEK_ROWS, STABLE

TITLES = {"mql_to_sql": "MQL → SQL", "sql_to_won": "SQL → won"}
_CSS = """
body { font-family: system-ui, sans-serif; color: #1f2933; margin: 0; background: #f5f7fa; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.25rem; margin-top: 2rem;
  border-bottom: 2px solid #e4e7eb; } h3 { font-size: 1.05rem; margin-top: 1.4rem; }
table { border-collapse: collapse; font-size: 0.88rem; margin: 8px 0 14px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e4e7eb; }
th { background: #f0f4f8; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { padding: 1px 8px; border-radius: 10px; font-size: 0.8rem; font-weight: 600; }
.stable, .ok { background: #e3f9e5; color: #207227; }
.watch { background: #fff3c4; color: #8d5b00; } .act, .alarm { background: #ffe3e3;
  color: #a61b1b; } ul.alarms li { margin: 4px 0; } .note { color: #52606d; }
figure { margin: 10px 0 18px; } figure img { max-width: 100%; border: 1px solid #e4e7eb; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=plots.DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _day(value: object) -> str:
    return pd.Timestamp(value).date().isoformat()


def _number(value: float, fmt: str = "{:.3f}") -> str:
    return "–" if value is None or pd.isna(value) else fmt.format(value)


def _table(frame: pd.DataFrame, formats: dict[str, str], badge: str | None = None) -> str:
    """An HTML table of ``frame``'s columns in ``formats`` (format strings; "" = text)."""
    head = "".join(f"<th>{esc(c)}</th>" for c in formats)
    body = []
    for row in frame.to_dict("records"):
        cells = []
        for column, fmt in formats.items():
            value = row[column]
            if column == badge:
                cells.append(f"<td><span class='badge {esc(value)}'>{esc(value)}</span></td>")
            elif column == "week":
                cells.append(f"<td>{_day(value)}</td>")
            elif fmt:
                cells.append(f"<td class=num>{_number(value, fmt)}</td>")
            else:
                cells.append(f"<td>{esc(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        return "<p class=note>nothing to show</p>"
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


_PSI = {"column": "", "kind": "", "rows": "{:,.0f}", "psi": "{:.3f}", "band": ""}
_COHORTS = {
    "week": "",
    "rows": "{:,.0f}",
    "conversions": "{:,.0f}",
    "predicted": "{:.3f}",
    "observed": "{:.3f}",
    "z": "{:+.1f}",
    "auc": "{:.3f}",
}
_SEGMENTS = {
    "column": "",
    "level": "",
    "rows": "{:,.0f}",
    "predicted": "{:.3f}",
    "observed": "{:.3f}",
    "z": "{:+.1f}",
}
_SHARES = {
    "threshold": "",
    "rows": "{:,.0f}",
    "above": "{:,.0f}",
    "share": "{:.3f}",
    "capacity_share": "{:.3f}",
    "capacity_source": "",
}


def _intro(found: TransitionFindings) -> str:
    """Who was judged, against what, and what was set aside or could not be judged."""
    cohort = found.latest_cohort
    cohort_text = (
        "No cohort has matured yet."
        if cohort is None
        else f"Newest matured cohort from {_day(cohort['week'])}: {int(cohort['rows'])} leads, "
        f"{cohort['observed']:.1%} converted against {cohort['predicted']:.1%} predicted."
    )
    versions = ", ".join(f"{v or 'folder'} ({n})" for v, n in found.versions.items())
    text = (
        f"<p>{found.rows:,} leads judged (the first score of each lead whose transition was "
        f"open); reference: training run <code>{esc(found.reference_run)}</code>; model "
        f"versions scored: {esc(versions)}. {esc(cohort_text)}</p>"
    )
    if found.set_aside:
        reasons = "; ".join(f"{reason}: {count}" for reason, count in found.set_aside.items())
        text += f"<p class=note>Set aside: {esc(reasons)}</p>"
    if found.notes:
        text += "<ul class=note>" + "".join(f"<li>{esc(n)}</li>" for n in found.notes) + "</ul>"
    return text


def _section(found: TransitionFindings, images: dict[str, str]) -> str:
    psi = found.psi[found.psi["week"] == found.latest_week].sort_values("psi", ascending=False)
    deviation = found.segments["z"].abs().sort_values(ascending=False)
    segments = found.segments.reindex(deviation.index).head(15)
    shares = found.shares[found.shares["week"] == found.latest_week]
    parts = [
        f"<h2>{esc(TITLES.get(found.transition, found.transition))}</h2>",
        _intro(found),
        f"<h3>Population stability, week from {_day(found.latest_week)}</h3>",
        _table(psi, _PSI, badge="band"),
        f"<figure><img src='{images['stability']}' alt='PSI by week'></figure>",
        "<h3>Matured cohorts: calibration and ranking</h3>",
        _table(found.cohorts, _COHORTS),
        f"<figure><img src='{images['reliability']}' alt='reliability per cohort'></figure>",
        "<h3>Segments of the newest matured cohort (largest deviations first)</h3>",
        _table(segments, _SEGMENTS),
        "<h3>Leads crossing the thresholds</h3>",
        _table(shares, _SHARES),
        f"<figure><img src='{images['shares']}' alt='share above the thresholds'></figure>",
    ]
    return "\n".join(parts)


def _method(outcome_days: dict[str, int]) -> str:
    windows = ", ".join(f"{t} {d} days" for t, d in outcome_days.items())
    items = [
        f"Stability (PSI) of each week against the model's training data: below {STABLE} "
        f"stable, {STABLE} to {ACT} watch, above {ACT} act: an alarm on weeks of "
        f"{MIN_WEEK_ROWS} leads or more when chance alone could not give the value (a small "
        "week scatters widely over a column of many bins).",
        f"Calibration and ROC-AUC on matured cohorts only: a week's leads once their outcome "
        f"window has closed ({windows}). An alarm when observed and predicted conversion differ "
        f"by {limits.MIN_GAP:.0%} or more and beyond chance (false-alarm rate "
        f"{limits.ALPHA:g} per check, Bonferroni over segments), or the AUC is "
        f"{limits.AUC_DROP} or more below the test data's and beyond chance.",
        f"Inflation: the share crossing a threshold against the sales capacity it was set for "
        f"(an alarm {limits.INFLATION_MARGIN:.0%} over the test data's share and beyond chance, "
        "or over the capacity when LEADSCORE_SALES_CAPACITY_PER_WEEK is set).",
        "Each run judges the week that just ended and the newest matured cohort; older weeks "
        "are shown for context.",
    ]
    return "<ul>" + "".join(f"<li>{esc(item)}</li>" for item in items) + "</ul>"


def render_html(
    found: Sequence[TransitionFindings],
    figures: dict[str, dict[str, Figure]],
    *,
    since: pd.Timestamp,
    until: pd.Timestamp,
    known_at: pd.Timestamp,
    outcome_days: dict[str, int],
) -> str:
    """The page: verdict, alarms, then per transition its tables and figures."""
    alarms = [a for f in found for a in f.alarms]
    verdict = (
        f"<span class='badge alarm'>{len(alarms)} alarm{'s' * (len(alarms) != 1)}</span>"
        if alarms
        else "<span class='badge ok'>no alarm</span>"
    )
    listed = "".join(f"<li>{esc(a.message)}</li>" for a in alarms)
    sections = "".join(
        _section(f, {name: _png(fig) for name, fig in figures[f.transition].items()}) for f in found
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>Lead score monitor {_day(since)} to {_day(until)}</title><style>{_CSS}</style></head>
<body><main>
<h1>Lead score monitor: leads scored {_day(since)} to {_day(until)} {verdict}</h1>
<p class=note>Outcomes known up to {esc(pd.Timestamp(known_at).isoformat(sep=" "))}.</p>
{f"<ul class=alarms>{listed}</ul>" if listed else ""}
{sections}
<h2>How this was judged</h2>
{_method(outcome_days)}
</main></body></html>
"""


def summary_text(found: Sequence[TransitionFindings]) -> str:
    """The command line's summary: a line per transition, then one per alarm."""
    lines = []
    for f in found:
        week = f.psi[(f.psi["week"] == f.latest_week)]
        worst = week.sort_values("psi", ascending=False).head(1)
        worst_text = (
            f"largest PSI {worst['column'].iloc[0]} {worst['psi'].iloc[0]:.2f}"
            if len(worst)
            else "no leads in the latest week"
        )
        cohort = f.latest_cohort
        cohort_text = (
            "no matured cohort"
            if cohort is None
            else f"cohort {_day(cohort['week'])}: {cohort['observed']:.1%} converted vs "
            f"{cohort['predicted']:.1%} predicted, AUC {_number(cohort['auc'])}"
        )
        lines.append(
            f"{f.transition}: {f.rows:,} leads; {worst_text}; {cohort_text}; "
            f"{len(f.alarms)} alarm(s)"
        )
    lines += [f"ALARM {a.message}" for f in found for a in f.alarms]
    return "\n".join(lines)
