"""The weights report's HTML tables: rules, capacity and uncovered signals.

Pure functions from the comparison's ``to_dict()`` to HTML fragments, kept apart from the page
(``training.weights.report.html``) so each table can be read and tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from training.weights.report.format import esc, num, pct, signed

__all__ = ["capacity_table", "rules_table", "uncovered_table"]

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
            else f"<small>{signed(r['learned_lower'])} to {signed(r['learned_upper'])}</small>"
        )
        badge = _VERDICT_CLASS.get(r["verdict"], "neutral")
        body.append(
            f"<tr class='{'flagged' if r['flagged'] else ''}' data-rule='{esc(r['name'])}'>"
            f"<td class=rule><b>{esc(r['name'])}</b><small>{esc(r['kind'])}"
            f"{': ' + esc(r['description']) if r['description'] else ''}</small></td>"
            f"<td class=num>{pct(r['fires_share'])}</td>"
            f"<td class=num>{pct(r['conversion_when_fires'])} / "
            f"{pct(r['conversion_when_not'])}</td>"
            f"<td class=num>{r['hand_set_points']:g}</td>"
            f"<td class=num><b>{signed(r['learned_points'])}</b>{interval}</td>"
            f"<td class=num>{signed(r['model_points'])}</td>"
            f"<td class=verdict><span class='badge {badge}'>{esc(r['verdict'])}</span>"
            f"<small>{esc(r['explanation'])}</small></td></tr>"
        )
    return (
        f"<div class=scroll><table id=rules><thead>{head}</thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def capacity_table(data: Mapping[str, Any]) -> str:
    """One row per score (hand-set, learned, model) at the same sales capacity."""
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
        extra = "–" if is_baseline else num(row["extra_conversions"], "{:+,.0f}")
        cut = (
            f"{row['threshold']:.3f} (probability)"
            if row["threshold_unit"] == "probability"
            else f"{row['threshold']:g} points"
        )
        body.append(
            f"<tr><td><b>{esc(row['method'])}</b></td><td class=num>{cut}</td>"
            f"<td class=num>{row['passed_per_month']:,.0f}</td>"
            f"<td class=num>{row['conversions']:,}</td>"
            f"<td class=num>{pct(row['conversion_rate'])}</td>"
            f"<td class=num>{pct(row['recall'])}</td>"
            f"<td class=num>{num(row['roc_auc'], '{:.3f}')}</td>"
            f"<td class=num>{num(row['conversions_at_capacity'], '{:,.0f}')}</td>"
            f"<td class=num>{extra}</td></tr>"
        )
    return (
        f"<div class=scroll><table id=capacity><thead>{head}</thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def uncovered_table(data: Mapping[str, Any]) -> str:
    """The strong model signals no rule is built from: candidates for new rules."""
    if not data["uncovered"]:
        return "<p>None: every strong signal of the model is related to a hand-set rule.</p>"
    head = (
        "<tr><th>signal (model feature)</th><th>what it is</th><th class=num>strength "
        "(mean |SHAP|, log-odds)</th><th class=num>≈ points</th><th>direction</th></tr>"
    )
    body = [
        f"<tr><td><b>{esc(s['feature'])}</b>"
        + (
            f"<small>values no rule scores: {s['uncovered_share']:.0%} of leads</small>"
            if s["uncovered_share"] < 1
            else ""
        )
        + f"</td><td>{esc(s['description'])}</td>"
        f"<td class=num>{s['mean_abs_shap']:.2f}</td><td class=num>{s['points']:.1f}</td>"
        f"<td>{_direction(s, data['scale'])}</td></tr>"
        for s in data["uncovered"]
    ]
    return f"<table id=uncovered><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"


def _direction(signal: Mapping[str, Any], scale: float) -> str:
    """A category's strongest values in points (and share of leads), else the direction."""
    if not signal["levels"]:
        return esc(signal["direction"])
    return "<br>".join(
        f"{esc(level['value'])}: {scale * level['mean_shap']:+.0f} points "
        f"<small style='display:inline'>({pct(level['share'])} of leads)</small>"
        for level in signal["levels"]
    )
