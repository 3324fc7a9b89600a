"""The three lead-history tables travelling together, and the report of rows set aside."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class LeadHistory:
    """Validated lead history: dtypes as ``core.contract.dtype_of`` gives them.

    Attributes:
        leads: one row per lead.
        touches: one row per interaction of a known lead.
        stage_changes: one row per stage entry of a known lead.
    """

    leads: pd.DataFrame
    touches: pd.DataFrame
    stage_changes: pd.DataFrame


@dataclass(frozen=True)
class SetAside:
    """Rows that broke the contract but did not stop the run: counted, with reasons."""

    table: str
    reason: str
    rows: int
    examples: list[str] = field(default_factory=list)

    def describe(self) -> str:
        ex = f" (e.g. {', '.join(self.examples[:3])})" if self.examples else ""
        return f"{self.table}: {self.rows} row(s) set aside: {self.reason}{ex}"
