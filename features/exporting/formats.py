"""The export formats by name, for the command line (``leadscore generate --format``)."""

from __future__ import annotations

from pathlib import Path

from core.errors import InputError
from features.exporting.fivetran import write_fivetran
from features.exporting.hubspot import write_hubspot
from features.exporting.salesforce import write_salesforce
from features.history import LeadHistory

FORMATS = ("salesforce", "hubspot", "hubspot-labels", "fivetran", "fivetran-duckdb")


def write_export(history: LeadHistory, folder: Path, fmt: str, *, seed: int = 0) -> Path:
    """``history`` written as the CRM export ``fmt``; returns what ``leadscore import`` reads
    (the folder, or the DuckDB file)."""
    if fmt == "salesforce":
        return write_salesforce(history, folder, seed=seed)
    if fmt in ("hubspot", "hubspot-labels"):
        return write_hubspot(history, folder, labels=fmt == "hubspot-labels", seed=seed)
    if fmt in ("fivetran", "fivetran-duckdb"):
        return write_fivetran(history, folder, as_duckdb=fmt == "fivetran-duckdb", seed=seed)
    raise InputError(f"--format {fmt!r}: use contract or one of {', '.join(FORMATS)}")
