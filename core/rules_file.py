"""The hand-set rules file: its schema, strict loading with errors that name the rule and the
problem, and writing (learned points are exported in the same format).

The file format is documented for marketers in ``models/hand_set_rules.yaml``; the scorer that
turns lead history into points is ``training.rules``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

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

from core.contract import LEADS_COLUMNS, TOUCH_VOCABULARIES
from core.errors import RulesFileError

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
        threshold: a total of at least this many points passes the lead to sales (the
            ``mql_to_sql`` decision).
        sql_to_won_threshold: optional; an SQL with at least this many points is a deal sales
            focuses on. Nearly every SQL has passed the hand-over threshold already, so the
            model is compared with the rules on ``sql_to_won`` at this one when it is given.
        half_life_days: decay of touch rules without their own; None = no decay.
        rules: the rules, in file order (the order of the score columns).
    """

    threshold: Points
    sql_to_won_threshold: Points | None = None
    half_life_days: HalfLife | None = None
    rules: Annotated[list[Rule], Field(min_length=1)]

    def threshold_for(self, transition: str) -> tuple[float, str]:
        """(points, the file's key they come from) of the threshold that decides
        ``transition``: ``sql_to_won_threshold`` when given for ``sql_to_won``, else
        ``threshold``."""
        if transition == "sql_to_won" and self.sql_to_won_threshold is not None:
            return float(self.sql_to_won_threshold), "sql_to_won_threshold"
        return float(self.threshold), "threshold"

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
    if path.is_dir():
        raise RulesFileError(f"{path}: is a folder; give the rules file (YAML) itself")
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
        **(
            {}
            if rules.sql_to_won_threshold is None
            else {"sql_to_won_threshold": _plain(rules.sql_to_won_threshold)}
        ),
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
