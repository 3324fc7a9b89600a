"""Why rows are set aside, kept in one place so reports, manifests and tests agree.

Each table under validation carries one reason code per input row (0 = kept). A row is counted
once, under the first reason that applies, so the order the checks run in decides its reason;
value-level fixes (a value set to missing, the row kept) are tracked separately and only
reported for rows that were kept, so nothing is counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.contract import TABLES
from features.history import SetAside

N_EXAMPLES = 5


class Reason:
    """The set-aside reason texts, kept together so reports, manifests and tests agree."""

    MISSING_ID = "missing or unreadable lead_id"
    NOT_IN_LEADS = "lead_id not in leads"
    LEAD_SET_ASIDE = "its lead was set aside"
    REPEATED_STAGE = "repeated stage entry (earliest kept)"
    IMPOSSIBLE_ORDER = "impossible stage order"

    @staticmethod
    def missing(column: str) -> str:
        return f"missing {column}"

    @staticmethod
    def unreadable(column: str) -> str:
        return f"unreadable {column}"

    @staticmethod
    def unknown(column: str) -> str:
        return f"unknown {column} value"

    @staticmethod
    def in_future(column: str) -> str:
        return f"{column} in the future"

    @staticmethod
    def before_created(column: str) -> str:
        return f"{column} before the lead's created_at"

    @staticmethod
    def set_to_missing(problem: str, column: str) -> str:
        """A value-level fix (problem: unknown, unreadable, negative): the row itself is kept."""
        return f"{problem} {column} set to missing (row kept)"


@dataclass
class Table:
    """One table being validated: coerced columns and a reason code per input row (0 = kept)."""

    name: str
    columns: dict[str, pd.Series]
    code: np.ndarray
    reasons: list[str] = field(default_factory=list)
    fixes: dict[str, np.ndarray] = field(default_factory=dict)

    def set_aside(self, mask: np.ndarray, reason: str) -> None:
        """Give ``reason`` to the rows in ``mask`` that no earlier check has set aside."""
        hit = mask & (self.code == 0)
        if hit.any():
            if reason not in self.reasons:
                self.reasons.append(reason)
            self.code[hit] = self.reasons.index(reason) + 1

    def kept(self) -> np.ndarray:
        return self.code == 0


def kept_frame(table: Table) -> pd.DataFrame:
    """The kept rows, contract columns in contract order, fresh RangeIndex."""
    kept = table.kept()
    frame = pd.DataFrame({c.name: table.columns[c.name] for c in TABLES[table.name]})
    if not kept.all():
        frame = frame.loc[kept].reset_index(drop=True)
    frame["lead_id"] = frame["lead_id"].astype(
        "int64" if frame["lead_id"].dtype == "Int64" else "str"
    )
    return frame


def report_of(table: Table) -> list[SetAside]:
    """Counts per reason with a few examples; value fixes count only on rows that were kept."""
    ids = table.columns["lead_id"]

    def example(i: int) -> str:
        lead = ids.iloc[i]
        if pd.isna(lead):
            return f"row {i}"
        return str(lead) if table.name == "leads" else f"row {i} (lead {lead})"

    report = []
    counts = np.bincount(table.code, minlength=len(table.reasons) + 1)
    for code, reason in enumerate(table.reasons, start=1):
        rows = np.flatnonzero(table.code == code)[:N_EXAMPLES]
        report.append(SetAside(table.name, reason, int(counts[code]), [example(i) for i in rows]))
    kept = table.kept()
    for reason, mask in table.fixes.items():
        rows = np.flatnonzero(mask & kept)
        if len(rows):
            examples = [example(i) for i in rows[:N_EXAMPLES]]
            report.append(SetAside(table.name, reason, len(rows), examples))
    return report
