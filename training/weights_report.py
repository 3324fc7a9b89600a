"""The weights comparison as a page a marketer reads, and the run that writes and logs it.

``render_html`` turns a ``WeightsComparison`` (or its ``to_dict()``, which is all the API holds)
into one self-contained HTML page: inline CSS, figures as base64 PNG data URIs, the learned
rules file as a download link, no script, no external font, style sheet or image (the machines
have no internet, and a marketer may open the file from a mail). ``run_weights_report`` is the
edge that writes report.html, learned_rules.yaml and weights.json and logs them to MLflow.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from features.build import TrainingSet
from features.history import LeadHistory
from training import plots, tracking
from training.model import LeadConversionModel
from training.rules import HandSetRules
from training.weights import WeightsComparison, compare_weights

REPORT_FILES = ("report.html", "learned_rules.yaml", "weights.json")
TRANSITION_TITLES = {"mql_to_sql": "MQL → SQL", "sql_to_won": "SQL → won"}
_VERDICT_CLASS = {
    "supported": "ok",
    "uncertain": "neutral",
    "not in use": "neutral",
    "too rare to judge": "neutral",
    "too strong": "warn",
    "too weak": "warn",
    "no effect found": "bad",
    "wrong sign": "bad",
    "data suggests points": "warn",
}
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


# --- figures -----------------------------------------------------------------------------------
def weights_plot(data: Mapping[str, Any]) -> Figure:
    """Hand-set vs learned points per rule, with the bootstrap interval when there is one."""
    rules = data["rules"]
    lower = [r["learned_lower"] for r in rules]
    upper = [r["learned_upper"] for r in rules]
    has_interval = all(v is not None for v in lower + upper)
    fig = plots.weights_figure(
        [r["name"] for r in rules],
        [r["hand_set_points"] for r in rules],
        [r["learned_points"] for r in rules],
        lower if has_interval else None,
        upper if has_interval else None,
    )
    fig.set_size_inches(plots.FIGSIZE_IN[0], max(plots.FIGSIZE_IN[1], 0.32 * len(rules) + 1.5))
    return fig


def capacity_plot(data: Mapping[str, Any]) -> Figure:
    """Conversions caught on the test period by leads passed per month, for each score."""
    fig = Figure(figsize=plots.FIGSIZE_IN, dpi=plots.DPI, layout="constrained")
    ax = fig.add_subplot()
    for method, curve in data["curves"].items():
        (line,) = ax.plot(curve["leads_per_month"], curve["conversions"], linewidth=2, label=method)
        row = next(r for r in data["capacity"] if r["method"] == method)
        ax.plot(row["passed_per_month"], row["conversions"], "o", color=line.get_color())
    ax.axvline(
        data["capacity_per_month"],
        **plots.REFERENCE_STYLE,
        label=f"sales capacity ({data['capacity_per_month']:,.0f} leads a month)",
    )
    ax.set_title(
        f"Conversions caught, test period {data['periods']['test_from'][:10]} to "
        f"{data['periods']['test_to'][:10]}\n(dots: each score at its threshold)"
    )
    ax.set_xlabel("leads passed to sales per month (best-scored first)")
    ax.set_ylabel("converted leads among them (test period)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return fig


def uncovered_plot(data: Mapping[str, Any]) -> Figure | None:
    """Strength of the signals no rule covers, on the points scale; None when there are none."""
    signals = data["uncovered"]
    if not signals:
        return None
    fig = Figure(figsize=(plots.FIGSIZE_IN[0], 4.5), dpi=plots.DPI, layout="constrained")
    ax = fig.add_subplot()
    names = [s["feature"] for s in signals][::-1]
    ax.barh(names, [s["points"] for s in signals][::-1], color="C1")
    ax.set_title("Strong model signals that no hand-set rule covers")
    ax.set_xlabel("average effect on a lead's score (learned points; mean |SHAP| x scale)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def figures(comparison: WeightsComparison | Mapping[str, Any]) -> dict[str, Figure]:
    """The report's figures by name (notebooks show them, the page embeds them)."""
    data = _data(comparison)
    out = {"weights": weights_plot(data), "capacity": capacity_plot(data)}
    uncovered = uncovered_plot(data)
    if uncovered is not None:
        out["uncovered"] = uncovered
    return out


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=plots.DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# --- tables and page ---------------------------------------------------------------------------
def _data(comparison: WeightsComparison | Mapping[str, Any]) -> Mapping[str, Any]:
    return comparison.to_dict() if isinstance(comparison, WeightsComparison) else comparison


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def _pct(value: float | None) -> str:
    if value is None:
        return "–"
    return "<1%" if 0 < value < 0.005 else f"{value:.0%}"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _signed(value: float | None) -> str:
    return _num(value, "{:+.1f}")


def rules_table(data: Mapping[str, Any]) -> str:
    """The main table: one row per hand-set rule."""
    head = (
        "<tr><th>rule</th><th class=num>fires on (share of leads)</th>"
        "<th class=num>converts when it fires / does not</th><th class=num>hand-set points</th>"
        "<th class=num>learned points (95 % interval)</th><th class=num>model's view (points)"
        "</th><th>verdict</th></tr>"
    )
    body = []
    for r in data["rules"]:
        interval = (
            ""
            if r["learned_lower"] is None
            else f"<small>{_signed(r['learned_lower'])} to {_signed(r['learned_upper'])}</small>"
        )
        badge = _VERDICT_CLASS.get(r["verdict"], "neutral")
        body.append(
            f"<tr class='{'flagged' if r['flagged'] else ''}' data-rule='{_esc(r['name'])}'>"
            f"<td class=rule><b>{_esc(r['name'])}</b><small>{_esc(r['kind'])}"
            f"{': ' + _esc(r['description']) if r['description'] else ''}</small></td>"
            f"<td class=num>{_pct(r['fires_share'])}</td>"
            f"<td class=num>{_pct(r['conversion_when_fires'])} / "
            f"{_pct(r['conversion_when_not'])}</td>"
            f"<td class=num>{r['hand_set_points']:g}</td>"
            f"<td class=num><b>{_signed(r['learned_points'])}</b>{interval}</td>"
            f"<td class=num>{_signed(r['model_points'])}</td>"
            f"<td class=verdict><span class='badge {badge}'>{_esc(r['verdict'])}</span>"
            f"<small>{_esc(r['explanation'])}</small></td></tr>"
        )
    return (
        f"<div class=scroll><table id=rules><thead>{head}</thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def capacity_table(data: Mapping[str, Any]) -> str:
    k = data["periods"]["leads_at_capacity_in_test"]
    head = (
        "<tr><th>score</th><th class=num>threshold</th><th class=num>passed per month</th>"
        "<th class=num>conversions caught</th><th class=num>conversion rate</th>"
        "<th class=num>share of all conversions</th><th class=num>ROC AUC</th>"
        f"<th class=num>conversions in the top {k:,} (capacity)</th>"
        "<th class=num>more than hand-set</th></tr>"
    )
    body = []
    for row in data["capacity"]:
        is_baseline = row["method"] == "hand-set points"
        extra = "–" if is_baseline else _num(row["extra_conversions"], "{:+,.0f}")
        cut = (
            f"{row['threshold']:.3f} (probability)"
            if row["threshold_unit"] == "probability"
            else f"{row['threshold']:g} points"
        )
        body.append(
            f"<tr><td><b>{_esc(row['method'])}</b></td><td class=num>{cut}</td>"
            f"<td class=num>{row['passed_per_month']:,.0f}</td>"
            f"<td class=num>{row['conversions']:,}</td>"
            f"<td class=num>{_pct(row['conversion_rate'])}</td>"
            f"<td class=num>{_pct(row['recall'])}</td>"
            f"<td class=num>{_num(row['roc_auc'], '{:.3f}')}</td>"
            f"<td class=num>{_num(row['conversions_at_capacity'], '{:,.0f}')}</td>"
            f"<td class=num>{extra}</td></tr>"
        )
    return (
        f"<div class=scroll><table id=capacity><thead>{head}</thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def uncovered_table(data: Mapping[str, Any]) -> str:
    if not data["uncovered"]:
        return "<p>None: every strong signal of the model is related to a hand-set rule.</p>"
    head = (
        "<tr><th>signal (model feature)</th><th>what it is</th><th class=num>strength "
        "(mean |SHAP|, log-odds)</th><th class=num>≈ points</th><th>direction</th></tr>"
    )
    body = [
        f"<tr><td><b>{_esc(s['feature'])}</b>"
        + (
            f"<small>values no rule scores: {s['uncovered_share']:.0%} of leads</small>"
            if s["uncovered_share"] < 1
            else ""
        )
        + f"</td><td>{_esc(s['description'])}</td>"
        f"<td class=num>{s['mean_abs_shap']:.2f}</td><td class=num>{s['points']:.1f}</td>"
        f"<td>{_direction(s, data['scale'])}</td></tr>"
        for s in data["uncovered"]
    ]
    return f"<table id=uncovered><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"


def _direction(signal: Mapping[str, Any], scale: float) -> str:
    """A category's strongest values in points (and share of leads), else the direction."""
    if not signal["levels"]:
        return _esc(signal["direction"])
    return "<br>".join(
        f"{_esc(level['value'])}: {scale * level['mean_shap']:+.0f} points "
        f"<small style='display:inline'>({_pct(level['share'])} of leads)</small>"
        for level in signal["levels"]
    )


def _threshold_note(data: Mapping[str, Any]) -> str:
    if data["transition"] == "mql_to_sql":
        return ""
    return (
        " The hand-set threshold was set for the hand-over to sales; here it reads as the deals "
        "sales would focus on."
    )


def _summary(data: Mapping[str, Any]) -> str:
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
        + "".join(f"<div class=card><b>{_esc(v)}</b><span>{_esc(t)}</span></div>" for v, t in cards)
        + "</div>"
    )


def _method(data: Mapping[str, Any]) -> str:
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
        f"<b>Scale.</b> Points = {scale:.1f} × log-odds ({_esc(data['scale_method'])}): the "
        f"threshold of {data['threshold']:g} keeps its meaning, and every {scale * 0.693:.0f} "
        "learned points double a lead's odds of converting.",
        f"<b>Interval.</b> {s['bootstrap']} bootstrap resamples of the older decisions (seed "
        f"{s['seed']}); each refits points and scale. Rules firing on fewer than "
        f"{s['min_fires']} leads keep their hand-set points.",
        "<b>Verdict.</b> Flagged when the interval excludes the hand-set points by more than "
        "2 points or a quarter of them: <i>wrong sign</i>, <i>no effect found</i> (interval "
        "holds 0), <i>too strong</i> or <i>too weak</i>.",
        f"<b>Model's view.</b> The LightGBM model ({_esc(s['model'])}) explains "
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
    data = _data(comparison)
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
<title>Lead score weights: hand-set vs learned ({_esc(title)})</title>
<style>{_CSS}</style></head>
<body><main>
<h1>Your lead-score points vs what your history supports ({_esc(title)})</h1>
<p class=lead>{periods["fit_rows"]:,} decisions from {_esc(periods["fit_from"][:10])} to
{_esc(periods["test_from"][:10])} set the learned points; the newest {periods["test_rows"]:,}
(to {_esc(periods["test_to"][:10])}, {periods["test_conversions"]:,} conversions) test them.
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


# --- plain text (CLI and notebooks) ------------------------------------------------------------
def _plain_interval(rule: Mapping[str, Any]) -> str:
    if rule["learned_lower"] is None:
        return ""
    return f"[{rule['learned_lower']:+.1f}, {rule['learned_upper']:+.1f}]"


def summary_text(comparison: WeightsComparison | Mapping[str, Any]) -> str:
    """The report's three tables as plain text (what ``leadscore weights`` prints)."""
    data = _data(comparison)
    p = data["periods"]
    lines = [
        f"{data['transition']}: {p['fit_rows']:,} decisions fit the points "
        f"({p['fit_from'][:10]} to {p['test_from'][:10]}), {p['test_rows']:,} test them "
        f"(to {p['test_to'][:10]}); threshold {data['threshold']:g}; "
        f"1 point = {1 / data['scale']:.4f} log-odds",
        "",
        f"{'rule':<28}{'fires':>6}{'conv fires/not':>16}{'hand-set':>9}{'learned':>9}"
        f"{'95% interval':>17}{'model':>7}  verdict",
    ]
    for r in data["rules"]:
        lines.append(
            f"{r['name']:<28}{_pct(r['fires_share']):>6}"
            f"{_pct(r['conversion_when_fires']) + ' / ' + _pct(r['conversion_when_not']):>16}"
            f"{r['hand_set_points']:>9g}{r['learned_points']:>+9.1f}{_plain_interval(r):>17}"
            f"{_signed(r['model_points']):>7}  {r['verdict']}{' *' if r['flagged'] else ''}"
        )
    lines += [
        "  * flagged: the data contradicts the rule's sign or size",
        "",
        f"capacity {data['capacity_per_month']:,.0f} leads a month; test period "
        f"{p['test_months']:.1f} months, {p['test_conversions']:,} conversions",
        f"{'score':<18}{'threshold':>11}{'passed/month':>14}{'caught':>8}{'rate':>6}{'AUC':>7}"
        f"{'top ' + format(p['leads_at_capacity_in_test'], ','):>12}{'vs hand-set':>13}",
    ]
    for row in data["capacity"]:
        lines.append(
            f"{row['method']:<18}{row['threshold']:>11.3g}{row['passed_per_month']:>14,.0f}"
            f"{row['conversions']:>8,}{_pct(row['conversion_rate']):>6}"
            f"{_num(row['roc_auc'], '{:.3f}'):>7}"
            f"{_num(row['conversions_at_capacity'], '{:,.0f}'):>12}"
            f"{_num(row['extra_conversions'], '{:+,.0f}'):>13}"
        )
    lines += ["", "signals no hand-set rule covers (mean |SHAP| in log-odds, ~points):"]
    for u in data["uncovered"]:
        lines.append(
            f"  {u['feature']:<36}{u['mean_abs_shap']:>6.2f}{u['points']:>6.1f}  {u['direction']}"
        )
    return "\n".join(lines)


# --- the run -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeightsReport:
    """Attributes:
    comparison: what was computed; files: report.html, learned_rules.yaml, weights.json;
    run_id: the MLflow run, or None when not logged.
    """

    comparison: WeightsComparison
    files: dict[str, Path]
    run_id: str | None


def learned_rules_text(comparison: WeightsComparison | Mapping[str, Any]) -> str:
    """The learned rules file with a header saying where its points come from."""
    data = _data(comparison)
    p = data["periods"]
    header = (
        f"# Learned by `leadscore weights` ({data['transition']}) from {p['fit_rows']:,}\n"
        f"# decisions between {p['fit_from'][:10]} and {p['test_from'][:10]}; 1 point =\n"
        f"# {1 / data['scale']:.4f} log-odds. Rules kept as written; only points (and caps,\n"
        "# scaled with them) changed. Adopt: point LEADSCORE_RULES_PATH at this file.\n"
        "# Format documented in models/hand_set_rules.yaml.\n"
    )
    body = data["learned_rules_yaml"]
    if body.startswith("# Hand-set lead scoring rules"):  # dump_rules' own first line
        body = body.split("\n", 1)[1]
    return header + body


def write_weights_report(
    comparison: WeightsComparison,
    out_dir: Path,
    *,
    log_to_mlflow: bool = True,
    progress: Callable[[str], None] | None = None,
) -> WeightsReport:
    """Write report.html, learned_rules.yaml and weights.json into ``out_dir`` and log them to
    MLflow (the caller has run ``tracking.configure``). The only side effects of this module."""
    say = progress or (lambda _message: None)
    transition = comparison.transition
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = comparison.to_dict()
    files = {name: out_dir / name for name in REPORT_FILES}
    say(f"[{transition}] writing {', '.join(REPORT_FILES)} to {out_dir}")
    files["report.html"].write_text(render_html(data), encoding="utf-8")
    files["learned_rules.yaml"].write_text(learned_rules_text(data), encoding="utf-8")
    files["weights.json"].write_text(json.dumps(data, indent=2), encoding="utf-8")
    run_id = None
    if log_to_mlflow:
        run_id = tracking.log_weights_run(
            run_name=f"weights-{transition}-{datetime.now(UTC).isoformat(timespec='seconds')}",
            params={
                "transition": transition,
                "seed": comparison.settings["seed"],
                "bootstrap": comparison.settings["bootstrap"],
                "threshold": comparison.threshold,
                "capacity_per_month": round(comparison.capacity_per_month, 2),
                "capacity_is_default": comparison.capacity_is_default,
                "scale_method": comparison.scale_method,
                "model": comparison.settings["model"],
            },
            metrics=_metrics(comparison),
            tags={"transition": transition},
            files=list(files.values()),
        )
        say(f"[{transition}] logged to MLflow run {run_id}")
    return WeightsReport(comparison=comparison, files=files, run_id=run_id)


def run_weights_report(
    history: LeadHistory,
    rules: HandSetRules,
    out_dir: Path,
    *,
    transition: str = "mql_to_sql",
    capacity_per_month: float | None = None,
    seed: int = 7,
    bootstrap: int = 200,
    model: LeadConversionModel | None = None,
    horizon_days: int = 90,
    training_set: TrainingSet | None = None,
    log_to_mlflow: bool = True,
    progress: Callable[[str], None] | None = None,
) -> WeightsReport:
    """``compare_weights`` then ``write_weights_report``: what ``leadscore weights`` runs."""
    say = progress or (lambda _message: None)
    say(f"[{transition}] comparing hand-set and learned points ({bootstrap} resamples)...")
    comparison = compare_weights(
        history,
        rules,
        transition=transition,
        capacity_per_month=capacity_per_month,
        seed=seed,
        bootstrap=bootstrap,
        model=model,
        horizon_days=horizon_days,
        training_set=training_set,
    )
    return write_weights_report(comparison, out_dir, log_to_mlflow=log_to_mlflow, progress=progress)


def _metrics(comparison: WeightsComparison) -> dict[str, float]:
    metrics = {
        "scale": comparison.scale,
        "learned_threshold": comparison.learned_threshold,
        "rules_flagged": float(sum(r.flagged for r in comparison.rules)),
    }
    for rule in comparison.rules:
        metrics[f"learned_points.{rule.name}"] = rule.learned_points
    for row in comparison.capacity:
        key = row.method.replace(" ", "_").replace("-", "_")
        for name in ("conversions_at_capacity", "extra_conversions", "roc_auc", "conversions"):
            value = getattr(row, name)
            if value == value:  # not NaN
                metrics[f"capacity.{key}.{name}"] = float(value)
    return metrics
