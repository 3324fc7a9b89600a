"""The LightGBM model's view of the hand-set rules: what the model implicitly gives each rule
(mean SHAP of the features the rule is built from, where it fires minus where it does not), and
the strong model signals no rule covers. Used by ``training.weights.compare``; pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.definitions import FEATURES_BY_NAME, PAGE_SECONDS_WINDOWS, TOUCH_DIMENSIONS
from features.window import WINDOWS
from training.model import LeadConversionModel
from training.rules import AttributeRule, BehaviourRule, HandSetRules, TouchMatch

SHAP_ROWS = 3_000  # random rows explained by SHAP (TreeSHAP costs ~2 ms a row)
SHAP_MIN_FIRING = 100  # extra SHAP rows for a rule that fires on fewer of the random ones
UNCOVERED_TOP = 8
UNCOVERED_MIN_LOG_ODDS = 0.02
GENERIC_ENGAGEMENT = ("touches_3d", "touches_7d", "touches_30d", "days_since_last_touch")
_RATE_FEATURES = {"email_open": "email_open_rate", "email_click": "email_click_rate"}


@dataclass(frozen=True)
class UncoveredSignal:
    """A strong model signal no hand-set rule covers.

    Attributes:
        feature, description: the model feature and why it matters (feature registry).
        mean_abs_shap: mean |SHAP - its mean| (log-odds) over all rows, counting only rows no
            rule on this feature fires for; points: the same on the learned points scale.
        uncovered_share: share of rows counted (1 unless an attribute rule covers some values).
        direction: how the feature moves the odds, in words.
        levels: for a categorical feature, its strongest uncovered values with share and
            mean SHAP (log-odds).
    """

    feature: str
    description: str
    mean_abs_shap: float
    points: float
    uncovered_share: float
    direction: str
    levels: tuple[dict[str, Any], ...] = ()


def _match_features(match: TouchMatch) -> list[str]:
    """Features counting what ``match`` picks, from its most specific field (page > action >
    channel); a match over many values relates to overall engagement instead."""
    dimensions = {d.column: d for d in TOUCH_DIMENSIONS}
    for column in ("page_type", "action", "channel"):
        values = getattr(match, column)
        if values is None:
            continue
        if len(values) > 3:
            return list(GENERIC_ENGAGEMENT)
        dim, names = dimensions[column], []
        for value in values:
            names += [dim.count_name.format(value=value, window=w) for w in WINDOWS]
            names.append(dim.recency_name.format(value=value))
            if column == "page_type":
                names += [f"{value}_page_seconds_{w}" for w in PAGE_SECONDS_WINDOWS]
            if column == "action" and value in _RATE_FEATURES:
                names.append(_RATE_FEATURES[value])
        return names
    return []  # a TouchMatch always names a field; kept for the type checker


def related_features(rule: Any, available: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Model features a rule is built from (those present in ``available``), in order."""
    if isinstance(rule, AttributeRule):
        names = [rule.attribute]
    elif isinstance(rule, BehaviourRule):
        names = [name for condition in rule.when_all for name in _match_features(condition)]
    else:
        names = _match_features(rule)
    present = set(available)
    return tuple(dict.fromkeys(n for n in names if n in present))


# --- the model's view --------------------------------------------------------------------------
def model_view(
    frame: pd.DataFrame,
    signal: np.ndarray,
    model: LeadConversionModel,
    features: list[str],
    rules: HandSetRules,
    seed: int,
) -> dict[str, Any]:
    """SHAP on a seeded random sample of rows, topped up with firing rows of rare rules.

    Per rule: mean SHAP of its related features where it fires (all sampled firing rows, each
    a random firing row) and where it does not (random rows only), and the mean signal of the
    sampled firing rows. The random rows alone feed the uncovered signals.
    """
    rng = np.random.default_rng([seed, 1])
    n = len(frame)
    sample = np.sort(rng.choice(n, size=min(SHAP_ROWS, n), replace=False))
    fires = signal != 0
    extra = []
    for r in range(signal.shape[1]):
        have = int(fires[sample, r].sum())
        if have < SHAP_MIN_FIRING:
            pool = np.setdiff1d(np.flatnonzero(fires[:, r]), sample)
            take = min(pool.size, SHAP_MIN_FIRING - have)
            extra.append(rng.choice(pool, size=take, replace=False))
    rows = np.unique(np.concatenate([sample, *extra]))
    contributions = model.contributions(frame.iloc[rows][features].reset_index(drop=True))
    is_random = np.isin(rows, sample)
    related, per_rule = [], []
    for r, rule in enumerate(rules.rules):
        names = related_features(rule, features)
        related.append(names)
        total = contributions[list(names)].sum(axis=1).to_numpy()
        on = fires[rows, r]
        off = ~on & is_random
        if not names or not on.any() or not off.any():
            per_rule.append((math.nan, math.nan, 0.0))
            continue
        per_rule.append(
            (float(total[on].mean()), float(total[off].mean()), float(signal[rows, r][on].mean()))
        )
    return {
        "rows": rows,
        "random": is_random,
        "contributions": contributions,
        "related": related,
        "per_rule": per_rule,
        "fires": fires[rows],
    }


def uncovered_signals(
    view: dict[str, Any], frame: pd.DataFrame, rules: HandSetRules, scale: float
) -> list[UncoveredSignal]:
    """Strong model features no rule relates to; for an attribute an attribute rule tests,
    only its rows where no such rule fires (the values the team gives no points)."""
    random = view["random"]
    contributions = view["contributions"].drop(columns="bias")[random]
    values = frame.iloc[view["rows"][random]].reset_index(drop=True)
    fires = view["fires"][random]
    touch_related = {
        name
        for rule, names in zip(rules.rules, view["related"], strict=True)
        if not isinstance(rule, AttributeRule)
        for name in names
    }
    out = []
    for feature in contributions.columns:
        if feature in touch_related:
            continue
        on_feature = [
            r
            for r, rule in enumerate(rules.rules)
            if isinstance(rule, AttributeRule) and rule.attribute == feature
        ]
        uncovered = ~fires[:, on_feature].any(axis=1) if on_feature else np.ones(len(fires), bool)
        if not uncovered.any():
            continue
        shap = contributions[feature].to_numpy()[uncovered]
        centered = shap - shap.mean()
        strength = float(np.abs(centered).sum() / len(fires))
        if strength < UNCOVERED_MIN_LOG_ODDS:
            continue
        column = values[feature][uncovered].reset_index(drop=True)
        direction, levels = _direction(column, centered, len(fires))
        known = FEATURES_BY_NAME.get(feature)
        out.append(
            UncoveredSignal(
                feature=feature,
                description=known.description if known else "",
                mean_abs_shap=strength,
                points=scale * strength,
                uncovered_share=float(uncovered.mean()),
                direction=direction,
                levels=levels,
            )
        )
    out.sort(key=lambda s: -s.mean_abs_shap)
    return out[:UNCOVERED_TOP]


def _direction(
    column: pd.Series, centered_shap: np.ndarray, n_rows: int
) -> tuple[str, tuple[dict[str, Any], ...]]:
    """In words: higher values raise or lower the odds; for categories, the strongest values."""
    numeric = pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(
        column.dtype
    )
    if not numeric:
        labels = column.astype("object").where(column.notna(), "(missing)").astype(str)
        table = (
            pd.DataFrame({"value": labels, "shap": centered_shap})
            .groupby("value", sort=True)["shap"]
            .agg(["mean", "size"])
        )
        table = table[table["size"] >= max(1, 0.01 * n_rows)]
        table = table.reindex(table["mean"].abs().sort_values(ascending=False).index).head(3)
        levels = tuple(
            {"value": str(v), "share": float(row["size"] / n_rows), "mean_shap": float(row["mean"])}
            for v, row in table.iterrows()
        )
        words = ", ".join(f"{lv['value']} {lv['mean_shap']:+.2f}" for lv in levels)
        return f"by value (log-odds): {words}", levels
    number = pd.to_numeric(column, errors="coerce").astype(float)
    known = number.notna().to_numpy()
    if known.sum() < 3 or number[known].nunique() < 2:
        return "mixed", ()
    rho = pd.Series(number[known].to_numpy()).corr(
        pd.Series(centered_shap[known]), method="spearman"
    )
    if not np.isfinite(rho) or abs(rho) < 0.1:
        return "mixed", ()
    return ("higher values raise the odds" if rho > 0 else "higher values lower the odds"), ()
