"""The mapping file's model: how a CRM export's tables become leads, touches and stage changes.

A mapping lists, per contract table, blocks; a block reads one source table (``from``),
optionally keeps only some rows (``where``), borrows columns from other tables (``join``,
matched ``by`` a key; they are then named ``Table.Column``), and says how each contract column
is made (``columns``). Touches take their channel, action and page type from the first
matching ``kinds`` case; stage changes come one per row (a ``stage`` column) or several per row
from date columns (``stages``: stage -> the column holding when it was entered). Reading and
checking a file is ``features.importing.parse``; the presets and every key are documented in
docs/import.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PRESETS = ("salesforce", "hubspot", "fivetran")
TRANSFORMS = ("present", "email_domain")
OTHER_CHOICES = ("keep", "missing")
KIND_COLUMNS = ("channel", "action", "page_type")


@dataclass(frozen=True)
class Condition:
    """A test on one source column: one of ``values`` (without case), a ``pattern`` (regular
    expression, searched, without case), or just ``filled``/empty. ``columns`` are candidates
    (written ``"type|Event type"``): the first one the file has is tested."""

    columns: tuple[str, ...]
    values: tuple[str, ...] = ()
    pattern: str | None = None
    filled: bool | None = None


@dataclass(frozen=True)
class Spec:
    """How one contract column is made from a source row (see the module docstring)."""

    columns: tuple[str, ...] = ()
    value: Any = None
    map: dict[str, Any] | None = None
    other: Any = "missing"
    default: Any = None
    split: str | None = None
    scale: float | None = None
    transform: str | None = None


@dataclass(frozen=True)
class Join:
    """Columns borrowed from another source table by key: ``on`` is (this table's column, the
    other table's key column), written ``by: {this_column: other_key}``; the borrowed
    ``take`` columns are named ``table.column``."""

    table: str
    on: tuple[str, str]
    take: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    """Touch kind: when every condition holds, the touch gets ``set`` (channel, action and
    optionally page_type)."""

    when: tuple[Condition, ...]
    set: dict[str, str]


@dataclass(frozen=True)
class Block:
    """One source table's contribution to one contract table.

    Attributes:
        table: the contract table (leads, touches, stage_changes).
        source: the source table (file stem, or DuckDB table).
        where: conditions a row must meet to be used (others are left out by design).
        joins: columns borrowed from other source tables.
        columns: contract column -> spec.
        kinds: touches only: the cases that give a touch its channel, action and page type.
        stages: stage_changes only: stage -> spec of the column holding when it was entered.
        leaky: source column -> why it must never be a feature (named in the report).
        set_at_creation: lead fields the mapping vouches are set when the lead is created; all
            other mapped lead fields are marked "current value only" in the report.
        keep_leaky: mapped lead fields to keep even when they behave like the outcome.
        where_text: how ``where`` reads, for the report.
        path: where in the mapping file the block is (``touches[2]``).
    """

    table: str
    source: str
    where: tuple[Condition, ...] = ()
    joins: tuple[Join, ...] = ()
    columns: dict[str, Spec] = field(default_factory=dict)
    kinds: tuple[Case, ...] = ()
    stages: dict[str, Spec] = field(default_factory=dict)
    leaky: dict[str, str] = field(default_factory=dict)
    set_at_creation: tuple[str, ...] = ()
    keep_leaky: tuple[str, ...] = ()
    where_text: str = ""
    path: str = ""


@dataclass(frozen=True)
class Mapping:
    """A whole mapping file.

    Attributes:
        name: the preset's or file's name (shown in the report).
        dates: "dayfirst", "monthfirst" or None (decide per column from the values).
        files: source table -> file name patterns (globs, without case) to look for.
        blocks: every block, leads first.
        origin: where the mapping was read from.
    """

    name: str
    dates: str | None
    files: dict[str, tuple[str, ...]]
    blocks: tuple[Block, ...]
    origin: str

    def of(self, table: str) -> list[Block]:
        return [b for b in self.blocks if b.table == table]
