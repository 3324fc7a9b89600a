"""SHAP contributions -> sentences a marketer reads.

A reason is one feature's SHAP value on the model's log-odds (before calibration) with the
lead's value of that feature, phrased from the feature registry's ``description``: "3 touches
of pricing content in the last 7 days (+)". The wording is derived from the registry, so a new
feature gets a sentence without code here; the groups below only pick the sentence pattern.
A model that starts from the hand-set rules has one more reason, "your rules": the rules
prior's push on the log-odds, read with the lead's hand-set points ("Your rules: 42 hand-set
points (+)").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from features.definitions import FEATURES_BY_NAME, Feature
from training.model.prior import RULES_CONTRIBUTION

Phrase = Callable[[Any], str]


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value: float) -> str:
    if _is_missing(value):
        return "unknown"
    return f"{value:,.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:.1f}"


def _days(value: float) -> str:
    if _is_missing(value):
        return "an unknown time"
    if value < 1:
        return "less than a day"
    days = round(value)
    return "1 day" if days == 1 else f"{days:,} days"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _singular(phrase: str) -> str:
    """'touches of pricing content ...' -> 'touch of pricing content ...' (first noun only)."""
    for plural, single in (("touches", "touch"), ("actions", "action")):
        if plural in phrase:
            return phrase.replace(plural, single, 1)
    return phrase


def _humane(text: str) -> str:
    return text.replace("_", " ")


def _count(description: str) -> Phrase:
    # "Touches of pricing content in the last 7 days" / "All touches ever: engagement volume."
    phrase = _humane(_lower_first(description.split(":")[0].rstrip(".")))
    phrase = phrase.removeprefix("all ")

    def say(value: Any) -> str:
        n = 0 if _is_missing(value) else round(value)
        return f"{n:,} {_singular(phrase) if n == 1 else phrase}"

    return say


def _recency(feature: Feature) -> Phrase:
    if feature.name == "days_since_last_touch":
        return lambda v: "No touches yet" if _is_missing(v) else f"Last touch {_days(v)} ago"
    if feature.name == "days_since_first_touch":
        return lambda v: "No touches yet" if _is_missing(v) else f"First touch {_days(v)} ago"
    # "Days since the last of the touches of pricing content."
    phrase = _humane(feature.description.rstrip(".").split("the last of the ", 1)[-1])

    def say(value: Any) -> str:
        if _is_missing(value):
            return f"No {phrase} yet"
        return f"Last {_singular(phrase)} {_days(value)} ago"

    return say


def _attribute(feature: Feature) -> Phrase:
    label = _humane(feature.name).capitalize()
    if feature.name == "has_phone":
        return lambda v: (
            "Phone number unknown"
            if _is_missing(v)
            else ("Phone number known" if v else "No phone number")
        )

    def say(value: Any) -> str:
        if _is_missing(value):
            return f"{label} unknown"
        shown = _number(value) if isinstance(value, int | float) else _humane(str(value))
        return f"{label}: {shown}"

    return say


_SPECIAL: dict[str, Phrase] = {
    "days_in_funnel": lambda v: f"Lead created {_days(v)} ago",
    "days_since_mql": lambda v: "Not MQL yet" if _is_missing(v) else f"MQL for {_days(v)}",
    "has_reached_sal": lambda v: (
        "Sales already accepted the lead" if v == 1 else "Sales has not accepted the lead yet"
    ),
    "distinct_page_types": lambda v: f"Interested in {_number(v)} kind(s) of content",
    "distinct_channels": lambda v: f"Engaged on {_number(v)} channel(s)",
    "email_open_rate": lambda v: (
        "No e-mails sent yet" if _is_missing(v) else f"Opened {v:.0%} of e-mails sent"
    ),
    "email_click_rate": lambda v: (
        "No e-mails opened yet" if _is_missing(v) else f"Clicked {v:.0%} of opened e-mails"
    ),
}


def _phrase(feature: Feature) -> Phrase:
    """The sentence pattern of ``feature``; any value it cannot phrase reads "<name>: value"."""
    specific = _specific_phrase(feature)
    label = _humane(feature.name).capitalize()

    def say(value: Any) -> str:
        try:
            return specific(value)
        except (TypeError, ValueError, OverflowError):
            return f"{label}: {'unknown' if _is_missing(value) else value}"

    return say


def _specific_phrase(feature: Feature) -> Phrase:
    if feature.name in _SPECIAL:
        return _SPECIAL[feature.name]
    if feature.group == "attributes":
        return _attribute(feature)
    if feature.group == "touch_counts":
        return _count(feature.description)
    if feature.group == "recency":
        return _recency(feature)
    if feature.group == "page_time":
        text = _humane(_lower_first(feature.description.rstrip(".")))
        return lambda v: f"{0 if _is_missing(v) else round(v):,} {text}"
    text = feature.description.rstrip(".")
    return lambda v: f"{text}: {'unknown' if _is_missing(v) else v}"


def _your_rules(points: Any) -> str:
    return f"Your rules: {_number(points)} hand-set points"


class ReasonWriter:
    """Turns one row of SHAP values into the strongest reasons up and down.

    Attributes:
        names: the model's input features, in the order of the SHAP columns; for a model that
            starts from the hand-set rules, then ``your_rules``: the rules prior's push, one
            named contribution whose value is the lead's hand-set points.
        phrases: per feature, value -> sentence (built once, at model load).
    """

    def __init__(self, names: Sequence[str], *, rules_prior: bool = False) -> None:
        self.names = list(names)
        self.phrases = [_phrase(FEATURES_BY_NAME[name]) for name in self.names]
        if rules_prior:
            self.names.append(RULES_CONTRIBUTION)
            self.phrases.append(_your_rules)

    def explain(
        self,
        contributions: np.ndarray,
        value_of: Callable[[int], Any],
        top: int,
        unseen: Mapping[int, bool] | None = None,
    ) -> tuple[list[dict], list[dict]]:
        """The ``top`` strongest positive and negative reasons of one lead.

        ``contributions`` holds one SHAP value per name (no bias); ``value_of(j)`` gives
        the lead's value of feature ``j``; ``unseen[j]`` marks a category value the model never
        saw in training (it counted as missing).
        """
        order = np.argsort(-np.abs(contributions), kind="stable")
        up: list[dict] = []
        down: list[dict] = []
        for j in order:
            c = float(contributions[j])
            if c == 0 or (len(up) >= top and len(down) >= top):
                break
            side = up if c > 0 else down
            if len(side) >= top:
                continue
            value = value_of(int(j))
            text = self.phrases[j](value)
            if unseen and unseen.get(int(j)):
                text += " (new to the model, counted as unknown)"
            side.append(
                {
                    "feature": self.names[j],
                    "value": None if _is_missing(value) else value,
                    "contribution": round(c, 6),
                    "text": f"{text} ({'+' if c > 0 else '-'})",
                }
            )
        return up, down
