"""Reading a mapping file strictly: the YAML (only true/false are booleans, so picklist values
Yes/No/On/Off stay text), every key known, every contract value allowed, every table and
column where the contract has it. A problem is an ``InputError`` naming the file, the place in
it (``touches[2].kinds[0].set.action``) and the problem.

A column spec is a source column name, a list of names (the first one filled in each row,
among those the file has: header labels and internal names in one preset), or a mapping with
``column``, ``value`` (a constant), ``map`` (source value -> contract value, matched without
case; ``~`` means "no value"), ``other`` (for values not in ``map``: ``keep``, ``missing``, a
value, or ``~``), ``default`` (for empty cells), ``split`` (several ids in one cell), ``scale``
(numbers times this) and ``transform`` (``present``: filled or not; ``email_domain``: business
or free).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import yaml

from core.contract import TABLES, TIME_COLUMN, Column
from core.dates import CONVENTIONS
from core.errors import InputError
from core.paths import input_file
from features.importing.cells import key as _key
from features.importing.mapping import (
    KIND_COLUMNS,
    OTHER_CHOICES,
    PRESETS,
    TRANSFORMS,
    Block,
    Case,
    Condition,
    Join,
    Mapping,
    Spec,
)


def preset_path(name: str) -> Path:
    """The shipped preset ``name`` (package data), to read or to copy and edit."""
    return Path(str(resources.files("features.importing") / "presets" / f"{name}.yaml"))


def preset_text(name: str) -> str:
    """The preset file's text, comments and all (``leadscore import --show-preset``)."""
    if name not in PRESETS:
        raise InputError(f"--show-preset {name!r}: use one of {', '.join(PRESETS)}")
    return preset_path(name).read_text(encoding="utf-8")


def load_mapping(format_or_path: str | Path) -> Mapping:
    """A preset by name (salesforce, hubspot, fivetran) or a mapping file by path."""
    text = str(format_or_path)
    if text in PRESETS:
        path = preset_path(text)
    elif text.endswith((".yaml", ".yml")):
        path = input_file(Path(text), "mapping file")
    else:
        raise InputError(
            f"--format {text!r}: use {', '.join(PRESETS)} or a mapping file (.yaml); "
            "copy a preset with `leadscore import --show-preset NAME`"
        )
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{path}: cannot read the mapping: {first}") from None
    return parse_mapping(raw, str(path), default_name=path.stem)


class _Loader(yaml.SafeLoader):
    """YAML without YAML 1.1's surprises: only true/false are booleans, so a picklist value
    Yes, No, On or Off stays the text it is."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_mapping(raw: Any, origin: str, default_name: str = "mapping") -> Mapping:
    """A mapping from its YAML structure; ``InputError`` names ``origin`` and the place."""
    at = _At(origin)
    top = at.mapping(raw, "", {"name", "description", "dates", "files", *TABLES})
    dates = top.get("dates", "auto")
    if dates not in ("auto", *CONVENTIONS):
        at.fail("dates", f"{dates!r} is not auto, dayfirst or monthfirst")
    files = {
        str(table): tuple(at.strings(patterns, f"files.{table}"))
        for table, patterns in at.mapping(top.get("files", {}), "files", None).items()
    }
    if not top.get("leads"):
        at.fail("leads", "the mapping has no leads block; leads are required")
    blocks = []
    for table in TABLES:
        entries = top.get(table) or []
        if isinstance(entries, dict):
            entries = [entries]
        if not isinstance(entries, list):
            at.fail(table, "expected a list of blocks")
        blocks += [_block(at, table, entry, f"{table}[{i}]") for i, entry in enumerate(entries)]
    return Mapping(
        str(top.get("name", default_name)),
        None if dates == "auto" else dates,
        files,
        tuple(blocks),
        origin,
    )


_BLOCK_KEYS = {"from", "where", "join", "columns", "kinds", "stages", "leaky"}
_BLOCK_KEYS |= {"set_at_creation", "keep_leaky"}
_SPEC_KEYS = {"column", "value", "map", "other", "default", "split", "scale", "transform"}


def _block(at: _At, table: str, raw: Any, where: str) -> Block:
    entry = at.mapping(raw, where, _BLOCK_KEYS)
    if "from" not in entry:
        at.fail(where, "a block needs `from` (the source table)")
    contract = {c.name: c for c in TABLES[table]}
    columns = at.mapping(entry.get("columns", {}), f"{where}.columns", set(contract))
    specs = {
        name: _spec(at, spec, f"{where}.columns.{name}", contract[name])
        for name, spec in columns.items()
    }
    kinds = tuple(_case(at, c, f"{where}.kinds[{i}]") for i, c in enumerate(entry.get("kinds", [])))
    stages = {
        str(stage): _spec(at, spec, f"{where}.stages.{stage}", contract["changed_at"])
        for stage, spec in at.mapping(entry.get("stages", {}), f"{where}.stages", None).items()
    }
    for stage in stages:
        if stage not in contract["stage"].allowed:
            at.fail(
                f"{where}.stages.{stage}", f"not a stage ({', '.join(contract['stage'].allowed)})"
            )
    needed = ["lead_id"]
    if table == "stage_changes" and stages:
        if "stage" in specs or "changed_at" in specs:
            at.fail(where, "give either `stages` or the columns stage and changed_at, not both")
    else:
        needed += [TIME_COLUMN[table]] + (["stage"] if table == "stage_changes" else [])
    if table == "touches" and not kinds:
        needed += ["channel", "action"]
    for name in needed:
        if name not in specs:
            at.fail(f"{where}.columns", f"{name} is required")
    if table == "leads" and "lead_type" not in specs:
        at.fail(f"{where}.columns", "lead_type is required (a column, or `value: informational`)")
    joins = tuple(
        _join(at, j, f"{where}.join[{i}]") for i, j in enumerate(_listed(entry.get("join")))
    )
    conditions = _conditions(at, entry.get("where", {}), f"{where}.where")
    return Block(
        table=table,
        source=str(entry["from"]),
        where=conditions,
        joins=joins,
        columns=specs,
        kinds=kinds,
        stages=stages,
        leaky={
            str(k): str(v)
            for k, v in at.mapping(entry.get("leaky", {}), f"{where}.leaky", None).items()
        },
        set_at_creation=tuple(
            at.strings(entry.get("set_at_creation", []), f"{where}.set_at_creation")
        ),
        keep_leaky=tuple(at.strings(entry.get("keep_leaky", []), f"{where}.keep_leaky")),
        where_text=_shown_conditions(entry.get("where")),
        path=where,
    )


def _spec(at: _At, raw: Any, where: str, column: Column) -> Spec:
    if isinstance(raw, str | list):
        return Spec(columns=tuple(at.strings(raw, where)))
    entry = at.mapping(raw, where, _SPEC_KEYS)
    if ("column" in entry) == ("value" in entry):
        at.fail(where, "give exactly one of `column` (source) or `value` (a constant)")
    spec = Spec(
        columns=tuple(at.strings(entry.get("column", []), f"{where}.column")),
        value=entry.get("value"),
        map=None
        if "map" not in entry
        else {_key(k): v for k, v in at.mapping(entry["map"], f"{where}.map", None).items()},
        other=entry.get("other", "missing"),
        default=entry.get("default"),
        split=entry.get("split"),
        scale=entry.get("scale"),
        transform=entry.get("transform"),
    )
    if spec.transform is not None and spec.transform not in TRANSFORMS:
        at.fail(f"{where}.transform", f"{spec.transform!r} is not one of {', '.join(TRANSFORMS)}")
    if spec.scale is not None and not isinstance(spec.scale, int | float):
        at.fail(f"{where}.scale", f"{spec.scale!r} is not a number")
    if spec.split is not None and column.name != "lead_id":
        at.fail(f"{where}.split", "only lead_id may hold several ids in one cell")
    if column.allowed:
        targets = [spec.value, spec.default, *(spec.map or {}).values()]
        if spec.other not in OTHER_CHOICES:
            targets.append(spec.other)
        for target in targets:
            if target is not None and str(target) not in column.allowed:
                at.fail(
                    where,
                    f"{target!r} is not a {column.name} value ({', '.join(column.allowed)})",
                )
    return spec


def _case(at: _At, raw: Any, where: str) -> Case:
    entry = at.mapping(raw, where, {"when", "set"})
    values = at.mapping(entry.get("set"), f"{where}.set", set(KIND_COLUMNS))
    for name in ("channel", "action"):
        if name not in values:
            at.fail(f"{where}.set", f"{name} is required")
    for name, value in values.items():
        allowed = next(c for c in TABLES["touches"] if c.name == name).allowed
        if value not in allowed:
            at.fail(f"{where}.set.{name}", f"{value!r} is not a {name} ({', '.join(allowed)})")
    return Case(_conditions(at, entry.get("when", {}), f"{where}.when"), dict(values))


def _join(at: _At, raw: Any, where: str) -> Join:
    entry = at.mapping(raw, where, {"table", "by", "take"})
    on = at.mapping(entry.get("by"), f"{where}.by", None)
    if len(on) != 1 or "table" not in entry:
        at.fail(where, "a join needs `table` and `by: {this_column: other_key}` (one pair)")
    ((mine, theirs),) = on.items()
    return Join(
        str(entry["table"]),
        (str(mine), str(theirs)),
        tuple(at.strings(entry.get("take", []), f"{where}.take")),
    )


def _conditions(at: _At, raw: Any, where: str) -> tuple[Condition, ...]:
    out = []
    for column, test in at.mapping(raw, where, None).items():
        if test in ("filled", "empty"):
            out.append(Condition(_candidates(column), filled=test == "filled"))
        elif isinstance(test, dict):
            pattern = at.mapping(test, f"{where}.{column}", {"matches"}).get("matches")
            try:
                re.compile(str(pattern))
            except re.error as error:
                at.fail(f"{where}.{column}.matches", f"not a regular expression ({error})")
            out.append(Condition(_candidates(column), pattern=str(pattern)))
        else:
            out.append(Condition(_candidates(column), values=tuple(_key(v) for v in _listed(test))))
    return tuple(out)


def _shown_conditions(raw: Any) -> str:
    """``where`` as the mapping's author wrote it, for the report."""
    parts = []
    for column, test in (raw or {}).items():
        if isinstance(test, dict):
            parts.append(f"{column} matches {test.get('matches')!r}")
        elif test in ("filled", "empty"):
            parts.append(f"{column} {test}")
        else:
            parts.append(f"{column} in {[_shown(v) for v in _listed(test)]}")
    return " and ".join(parts)


def _shown(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _candidates(column: Any) -> tuple[str, ...]:
    return tuple(part.strip() for part in str(column).split("|"))


def _listed(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class _At:
    """Error messages that name the file and the place in it."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, where: str, problem: str) -> NoReturn:
        place = f" at {where}" if where else ""
        raise InputError(f"mapping {self.origin}{place}: {problem}")

    def mapping(self, raw: Any, where: str, keys: set[str] | None) -> dict:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.fail(where, f"expected a mapping of keys to values, got {type(raw).__name__}")
        if keys is not None:
            unknown = sorted(str(k) for k in raw if k not in keys)
            if unknown:
                self.fail(where, f"unknown key {unknown[0]!r} (known: {', '.join(sorted(keys))})")
        return raw

    def strings(self, raw: Any, where: str) -> list[str]:
        values = _listed(raw)
        if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
            self.fail(where, "expected a column name or a list of them")
        return [str(v) for v in values]
