"""The weights report as plain text: the summary ``leadscore weights`` prints and the header
of the learned rules file. Pure: returns strings, writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from training.weights.compare import WeightsComparison
from training.weights.report.format import num, pct, report_data, signed

__all__ = ["learned_rules_text", "summary_text"]


def _plain_interval(rule: Mapping[str, Any]) -> str:
    """The 95 % interval as text; empty when no bootstrap ran (the column stays aligned)."""
    if rule["learned_lower"] is None:
        return ""
    return f"[{rule['learned_lower']:+.1f}, {rule['learned_upper']:+.1f}]"


def summary_text(comparison: WeightsComparison | Mapping[str, Any]) -> str:
    """The report's three tables as plain text (what ``leadscore weights`` prints)."""
    data = report_data(comparison)
    p = data["periods"]
    lines = [
        f"{data['transition']}: {p['fit_rows']:,} decisions fit the points "
        f"({p['fit_from'][:10]} to {p['test_from'][:10]}), {p['test_rows']:,} test them "
        f"(to {p['test_to'][:10]}); {data['threshold_key']} {data['threshold']:g}; "
        f"1 point = {1 / data['scale']:.4f} log-odds",
        "",
        f"{'rule':<28}{'fires':>6}{'conv fires/not':>16}{'hand-set':>9}{'learned':>9}"
        f"{'95% interval':>17}{'model':>7}  verdict",
    ]
    for r in data["rules"]:
        lines.append(
            f"{r['name']:<28}{pct(r['fires_share']):>6}"
            f"{pct(r['conversion_when_fires']) + ' / ' + pct(r['conversion_when_not']):>16}"
            f"{r['hand_set_points']:>9g}{r['learned_points']:>+9.1f}{_plain_interval(r):>17}"
            f"{signed(r['model_points']):>7}  {r['verdict']}{' *' if r['flagged'] else ''}"
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
            f"{row['conversions']:>8,}{pct(row['conversion_rate']):>6}"
            f"{num(row['roc_auc'], '{:.3f}'):>7}"
            f"{num(row['conversions_at_capacity'], '{:,.0f}'):>12}"
            f"{num(row['extra_conversions'], '{:+,.0f}'):>13}"
        )
    lines += ["", "signals no hand-set rule covers (mean |SHAP| in log-odds, ~points):"]
    for u in data["uncovered"]:
        lines.append(
            f"  {u['feature']:<36}{u['mean_abs_shap']:>6.2f}{u['points']:>6.1f}  {u['direction']}"
        )
    return "\n".join(lines)


def learned_rules_text(comparison: WeightsComparison | Mapping[str, Any]) -> str:
    """The learned rules file with a header saying where its points come from."""
    data = report_data(comparison)
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
