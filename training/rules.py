"""Hand-set rules: the file marketers edit, and the scorer that turns lead history into points.

The hand-set score is the baseline every learned model is shown next to, so it is computed by
one vectorised function, ``score_leads``, for every caller: training (many decision points),
the API (one lead, one row) and the weights comparison. There is no per-lead code path.

Time: touches are seen only through ``features.window.events_before`` (strictly before
``as_of``). Look-back windows are closed at the far end, like ``window_bucket``: a touch exactly
``window_days`` old is inside.

The file format is documented for marketers in ``models/hand_set_rules.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from features.contract import ACTIONS, CHANNELS, LEADS_COLUMNS, PAGE_TYPES, TIME_COLUMN
from features.history import LeadHistory
from features.window import NS_PER_DAY, age_days, events_before
from leadscore.errors import DataContractError, RulesFileError

TOUCH_VOCABULARIES: dict[str, tuple[str, ...]] = {
    "channel": CHANNELS,
    "action": ACTIONS,
    "page_type": PAGE_TYPES,
}
# Lead attributes a rule may test: every lead column except the id and the creation time.
LEAD_ATTRIBUTES = {c.name: c for c in LEADS_COLUMNS if c.kind not in ("id", "timestamp")}
RULE_KINDS = ("touch", "attribute", "behaviour")

Points = Annotated[float, Field(allow_inf_nan=False)]
Days = Annotated[float, Field(gt=0, allow_inf_nan=False)]
HalfLife = Annotated[float, Field(gt=0)]  # .inf allowed: no decay; nan fails gt


def _column_name(name: str) -> str:
    # rule names become score column names and keys of exported weights
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise ValueError(f"name {name!r} must start with a letter and hold only letters, digits, _")
    return name


RuleName = Annotated[str, AfterValidator(_column_name)]


class _Strict(BaseModel):
    # strict: "7" or true is not a number; a typo'd key is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TouchMatch(_Strict):
    """Which touches a rule or condition looks at.

    Attributes:
        channel, action, page_type: allowed values (any of them); every given field must match.
            A touch without a page_type never matches a page_type filter.
        min_duration_s: only touches lasting at least this long; unknown duration never matches.
    """

    channel: list[str] | None = None
    action: list[str] | None = None
    page_type: list[str] | None = None
    min_duration_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None

    @field_validator("channel", "action", "page_type", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("channel", "action", "page_type")
    @classmethod
    def _in_contract(cls, values: list[str], info: ValidationInfo) -> list[str]:
        allowed = TOUCH_VOCABULARIES[info.field_name]
        if not values:
            raise ValueError(f"{info.field_name} lists no values")
        for value in values:
            if value not in allowed:
                raise ValueError(
                    f"unknown {info.field_name} {value!r} (allowed: {', '.join(allowed)})"
                )
        return values

    @model_validator(mode="after")
    def _matches_something(self) -> TouchMatch:
        if self.channel is None and self.action is None and self.page_type is None:
            raise ValueError("give at least one of channel, action, page_type")
        return self


class TouchRule(TouchMatch):
    """Points for every matching touch, optionally windowed, decayed and capped.

    Attributes:
        window_days: only touches at most this old count; None = all history.
        cap: the rule's points per decision point are kept within [-cap, cap].
        half_life_days: overrides the file's half-life for this rule; inf = no decay.
    """

    name: RuleName
    kind: Literal["touch"]
    description: str | None = None
    points: Points
    window_days: Days | None = None
    cap: Annotated[float, Field(gt=0)] | None = None
    half_life_days: HalfLife | None = None


class AttributeRule(_Strict):
    """Points once when a lead attribute fits: one of ``values``, or within [min, max].

    A missing attribute value (or a lead missing from the leads table) never matches.
    """

    name: RuleName
    kind: Literal["attribute"]
    description: str | None = None
    attribute: str
    values: list[Any] | None = None
    min: Points | None = None
    max: Points | None = None
    points: Points

    @field_validator("attribute")
    @classmethod
    def _known_attribute(cls, value: str) -> str:
        if value not in LEAD_ATTRIBUTES:
            raise ValueError(f"unknown attribute {value!r} (allowed: {', '.join(LEAD_ATTRIBUTES)})")
        return value

    @model_validator(mode="after")
    def _fits_attribute(self) -> AttributeRule:
        column = LEAD_ATTRIBUTES[self.attribute]
        if column.kind in ("integer", "number"):
            if self.values is not None:
                raise ValueError(f"{self.attribute} is a number: use min and/or max, not values")
            if self.min is None and self.max is None:
                raise ValueError(f"give min and/or max for {self.attribute}")
            if self.min is not None and self.max is not None and self.min > self.max:
                raise ValueError(f"min {self.min:g} is above max {self.max:g}")
            return self
        if self.min is not None or self.max is not None:
            raise ValueError(f"{self.attribute} is not a number: use values, not min/max")
        if not self.values:
            raise ValueError(f"give values for {self.attribute}")
        for value in self.values:
            if column.kind == "boolean" and not isinstance(value, bool):
                raise ValueError(f"{self.attribute} takes true or false, got {value!r}")
            if column.kind == "category" and not isinstance(value, str):
                raise ValueError(f"{self.attribute} takes text values, got {value!r}")
            if column.allowed and value not in column.allowed:
                raise ValueError(
                    f"unknown {self.attribute} {value!r} (allowed: {', '.join(column.allowed)})"
                )
        return self


class Condition(TouchMatch):
    """One test of a behaviour rule: a measure of matching touches compared with a number.

    Attributes:
        measure: ``count`` of touches or their ``total_duration_s`` (unknown durations add 0).
        more_than / at_most: exactly one; the condition holds if measure > more_than
            (or measure <= at_most).
        window_days: overrides the rule's window for this condition.
    """

    measure: Literal["count", "total_duration_s"] = "count"
    more_than: Points | None = None
    at_most: Points | None = None
    window_days: Days | None = None

    @model_validator(mode="after")
    def _one_comparison(self) -> Condition:
        if (self.more_than is None) == (self.at_most is None):
            raise ValueError("give exactly one of more_than or at_most")
        return self


class BehaviourRule(_Strict):
    """Points once when all conditions hold over the last ``window_days`` (no decay)."""

    name: RuleName
    kind: Literal["behaviour"]
    description: str | None = None
    window_days: Days
    when_all: Annotated[list[Condition], Field(min_length=1)]
    points: Points


Rule = Annotated[TouchRule | AttributeRule | BehaviourRule, Field(discriminator="kind")]


class HandSetRules(_Strict):
    """A whole rules file.

    Attributes:
        threshold: a total of at least this many points passes the lead to sales.
        half_life_days: decay of touch rules without their own; None = no decay.
        rules: the rules, in file order (the order of the score columns).
    """

    threshold: Points
    half_life_days: HalfLife | None = None
    rules: Annotated[list[Rule], Field(min_length=1)]

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[Rule]) -> list[Rule]:
        names = pd.Series([rule.name for rule in rules])
        for name in names[names.duplicated()].unique():
            raise ValueError(f"rule {name!r}: name used by {int((names == name).sum())} rules")
        return rules


def default_rules_path() -> Path:
    """The shipped rules file (found from the source tree, so editable installs work too)."""
    return Path(__file__).resolve().parent.parent / "models" / "hand_set_rules.yaml"


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML loader that refuses a key given twice in one mapping (plain YAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                )
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def load_rules(path: Path) -> HandSetRules:
    """Read and check a rules file; every problem is a ``RulesFileError`` naming the rule."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesFileError(f"{path}: rules file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesFileError(f"{path}: cannot read rules file ({exc})") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise RulesFileError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(raw, dict):
        found = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise RulesFileError(
            f"{path}: expected a mapping with threshold, half_life_days and rules, found {found}"
        )
    try:
        return HandSetRules.model_validate(raw)
    except ValidationError as exc:
        raise RulesFileError(f"{path}: " + "; ".join(_problems(exc, raw))) from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem


def _problems(exc: ValidationError, raw: dict) -> list[str]:
    """One line per pydantic error, in marketer terms: "rule 'x': what is wrong"."""
    problems = []
    for error in exc.errors():
        loc = list(error["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            where = f"rule {_rule_label(raw, loc[1])}: "
            loc = loc[3:] if len(loc) > 2 and loc[2] in RULE_KINDS else loc[2:]
        problems.append(where + _problem(error, loc))
    return problems


def _rule_label(raw: dict, index: int) -> str:
    rules = raw.get("rules")
    rule = rules[index] if isinstance(rules, list) and index < len(rules) else None
    name = rule.get("name") if isinstance(rule, dict) else None
    return repr(name) if isinstance(name, str) else f"#{index + 1}"


def _path(loc: list) -> str:
    return " ".join(part if isinstance(part, str) else f"#{part + 1}" for part in loc)


def _problem(error: Any, loc: list) -> str:
    field, kind, ctx = _path(loc), error["type"], error.get("ctx", {})
    # the path above the field a message names, e.g. "when_all #2" above "more_than"
    above = _path(loc[:-1] if loc and isinstance(loc[-1], str) else loc)
    if kind in ("extra_forbidden", "missing"):
        what = "unknown" if kind == "extra_forbidden" else "missing"
        return f"{what} key {loc[-1]!r}" + (f" in {above}" if above else "")
    if kind == "union_tag_invalid":
        return f"unknown kind {ctx['tag']!r} (allowed: {', '.join(RULE_KINDS)})"
    if kind == "union_tag_not_found":
        return f"missing key 'kind' (one of {', '.join(RULE_KINDS)})"
    message = error["msg"].removeprefix("Value error, ")
    if kind == "value_error":  # our own messages name the field
        return f"{above}: {message}" if above else message
    message = message[0].lower() + message[1:]
    return f"{field + ': ' if field else ''}{message} (got {error['input']!r})"


def dump_rules(rules: HandSetRules, path: Path) -> None:
    """Write ``rules`` as a file ``load_rules`` reads back to an equal ``HandSetRules``."""
    document = {
        "threshold": _plain(rules.threshold),
        "half_life_days": _plain(rules.half_life_days),
        "rules": [_rule_document(rule) for rule in rules.rules],
    }
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    header = "# Hand-set lead scoring rules; format documented in models/hand_set_rules.yaml\n"
    Path(path).write_text(header + text, encoding="utf-8")


def _rule_document(rule: BaseModel) -> dict:
    data = rule.model_dump(exclude_none=True)
    first = {key: data.pop(key) for key in ("name", "kind", "description") if key in data}
    return _plain({**first, **data})


def _plain(value: Any) -> Any:
    """Readable YAML values: whole floats as ints, one-value touch filters as a scalar."""
    if isinstance(value, dict):
        return {
            key: item[0]
            if key in TOUCH_VOCABULARIES and isinstance(item, list) and len(item) == 1
            else _plain(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass(frozen=True)
class RuleScores:
    """Hand-set points of each decision point, rows aligned to the decision points given.

    Attributes:
        points: one float column per rule (named as the rule, in file order).
        total: the sum over rules (``hand_set_points``).
        passes_threshold: total >= threshold (the lead goes to sales).
        threshold: the threshold applied.
    """

    points: pd.DataFrame
    total: pd.Series
    passes_threshold: pd.Series
    threshold: float


@dataclass(frozen=True)
class _Touches:
    """Touches visible at each decision point: ``row`` indexes the decision points."""

    row: np.ndarray
    age_ns: np.ndarray
    codes: dict[str, np.ndarray]  # category codes per touch field; -1 = missing or unknown
    duration_s: np.ndarray  # float seconds, nan = unknown
    n_rows: int


def score_leads(
    rules: HandSetRules, decision_points: pd.DataFrame, history: LeadHistory
) -> RuleScores:
    """Hand-set points of each (lead_id, as_of) row of ``decision_points``.

    Only touches strictly before ``as_of`` count. A touch rule gives its points per matching
    touch times 0.5 ** (age_days / half_life), then the cap; attribute and behaviour rules give
    their points once. Vectorised over all rows (one pass per rule), so one lead and a batch go
    through the same code and get the same numbers.
    """
    for column in ("lead_id", "as_of"):
        if column not in decision_points.columns:
            raise DataContractError("decision_points", column, "missing column")
    n_rows = len(decision_points)
    touches = _visible_touches(decision_points, history.touches)
    positions = _lead_positions(decision_points, history.leads)
    columns: dict[str, np.ndarray] = {}
    total = np.zeros(n_rows)
    for rule in rules.rules:
        if isinstance(rule, TouchRule):
            values = _touch_points(rule, touches, rules.half_life_days)
        elif isinstance(rule, AttributeRule):
            values = _attribute_points(rule, positions, history.leads)
        else:
            values = _behaviour_points(rule, touches)
        columns[rule.name] = values
        total += values  # in rule order, so a row's sum never depends on the batch around it
    index = decision_points.index
    return RuleScores(
        points=pd.DataFrame(columns, index=index, columns=[r.name for r in rules.rules]),
        total=pd.Series(total, index=index, name="hand_set_points"),
        passes_threshold=pd.Series(total >= rules.threshold, index=index, name="passes_threshold"),
        threshold=rules.threshold,
    )


def _visible_touches(decision_points: pd.DataFrame, touches: pd.DataFrame) -> _Touches:
    fields = [f for f in (*TOUCH_VOCABULARIES, "duration_s") if f in touches.columns]
    visible = events_before(decision_points, touches, TIME_COLUMN["touches"], fields)
    n_touches = len(visible)
    codes = {
        field: pd.Categorical(visible[field], categories=vocabulary).codes
        if field in visible.columns
        else np.full(n_touches, -1, dtype=np.int8)
        for field, vocabulary in TOUCH_VOCABULARIES.items()
    }
    duration = (
        pd.to_numeric(visible["duration_s"], errors="coerce").to_numpy(float, na_value=np.nan)
        if "duration_s" in visible.columns
        else np.full(n_touches, np.nan)
    )
    return _Touches(
        row=visible["row"].to_numpy(np.int64),
        age_ns=visible["age_ns"].to_numpy(np.int64),
        codes=codes,
        duration_s=duration,
        n_rows=len(decision_points),
    )


def _matching(match: TouchMatch, touches: _Touches) -> np.ndarray:
    mask = None  # a TouchMatch always names at least one field
    for field, vocabulary in TOUCH_VOCABULARIES.items():
        wanted = getattr(match, field)
        if wanted is not None:
            lookup = np.zeros(len(vocabulary) + 1, dtype=bool)  # last slot: code -1
            lookup[[vocabulary.index(value) for value in wanted]] = True
            hit = lookup[touches.codes[field]]
            mask = hit if mask is None else np.logical_and(mask, hit, out=mask)
    if match.min_duration_s is not None:
        mask &= touches.duration_s >= match.min_duration_s
    return mask


def _within(touches: _Touches, window_days: float) -> np.ndarray:
    # closed at the far end, as features.window.window_bucket; integer ns, so exact
    return touches.age_ns <= round(window_days * NS_PER_DAY)


def _touch_points(rule: TouchRule, touches: _Touches, file_half_life: float | None) -> np.ndarray:
    mask = _matching(rule, touches)
    if rule.window_days is not None:
        mask &= _within(touches, rule.window_days)
    half_life = rule.half_life_days if rule.half_life_days is not None else file_half_life
    weights = None
    if half_life is not None and half_life != float("inf"):
        weights = rule.points * 0.5 ** (age_days(touches.age_ns[mask]) / half_life)
    points = np.bincount(touches.row[mask], weights=weights, minlength=touches.n_rows)
    points = points * rule.points if weights is None else points
    return np.clip(points, -rule.cap, rule.cap) if rule.cap is not None else points


def _lead_positions(decision_points: pd.DataFrame, leads: pd.DataFrame) -> np.ndarray:
    """Position of each decision point's lead in ``leads``; -1 when the lead is unknown."""
    lead_ids = pd.Index(leads["lead_id"])
    if not lead_ids.is_unique:
        duplicated = lead_ids[lead_ids.duplicated()].unique()[:5]
        raise DataContractError("leads", "lead_id", "lead ids must be unique", list(duplicated))
    return lead_ids.get_indexer(decision_points["lead_id"])


def _attribute_points(
    rule: AttributeRule, positions: np.ndarray, leads: pd.DataFrame
) -> np.ndarray:
    if rule.attribute not in leads.columns:
        return np.zeros(len(positions))
    column = leads[rule.attribute]
    if rule.values is None:  # numeric range; missing values compare False
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(float, na_value=np.nan)
        low = -np.inf if rule.min is None else rule.min
        high = np.inf if rule.max is None else rule.max
        fits = (numbers >= low) & (numbers <= high)
    else:
        fits = column.isin(rule.values).to_numpy(dtype=bool)
    fits = np.append(fits, False)  # position -1 (unknown lead) picks this slot
    return fits[positions] * float(rule.points)


def _behaviour_points(rule: BehaviourRule, touches: _Touches) -> np.ndarray:
    holds = np.ones(touches.n_rows, dtype=bool)
    for condition in rule.when_all:
        window = condition.window_days if condition.window_days is not None else rule.window_days
        mask = _matching(condition, touches) & _within(touches, window)
        weights = None
        if condition.measure == "total_duration_s":
            weights = np.nan_to_num(touches.duration_s[mask], nan=0.0)
        measure = np.bincount(touches.row[mask], weights=weights, minlength=touches.n_rows)
        if condition.more_than is not None:
            holds &= measure > condition.more_than
        else:
            holds &= measure <= condition.at_most
    return holds * float(rule.points)
