"""Lead ids: read from whatever the file holds, made one kind across the three tables, matched.

CRM exports give ids as integers, whole floats (a column with blanks) or text, and not always
the same kind in every table. Ids become Int64 when every table has integers, else text, so
"17" matches 17; if that still leaves most of a table's ids without a lead, the tables come from
different systems and the run stops rather than setting almost everything aside.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import DataContractError
from features.validation.reasons import N_EXAMPLES

_NUMBER_KINDS = ("integer", "floating", "mixed-integer-float")


def harmonised_ids(raw: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.Series], dict]:
    """lead_id of every table as one kind, Int64 if all are integers, else text (``str``), and
    the kind each table came with (None for a table without ids)."""
    ids, kinds = {}, {}
    for name, frame in raw.items():
        ids[name], kinds[name] = _id_column(frame["lead_id"])
    kind = "integer" if {k for k in kinds.values() if k} <= {"integer"} else "text"
    return {name: _as_kind(column, kind) for name, column in ids.items()}, kinds


def stop_if_ids_cannot_match(name: str, kinds: dict, ids: pd.Series, lead_pos: np.ndarray) -> None:
    """Text and integer ids are compared as text ("17" matches 17); if that leaves most of a
    table's ids without a lead, the tables come from different systems."""
    if kinds[name] in (None, kinds["leads"]) or kinds["leads"] is None:
        return
    present = ids.notna().to_numpy()
    unmatched = (lead_pos < 0) & present
    if unmatched.sum() * 2 > present.sum():
        problem = (
            f"ids are {kinds[name]} here but {kinds['leads']} in leads, and "
            f"{unmatched.sum():,} of {present.sum():,} match no lead"
        )
        examples = pd.unique(ids[unmatched])[:N_EXAMPLES]
        raise DataContractError(name, "lead_id", problem, list(examples))


def _as_kind(ids: pd.Series, kind: str) -> pd.Series:
    if kind == "integer":
        return ids.astype("Int64")
    if ids.dtype == "Int64":  # through Arrow: astype("str") converts value by value in Python
        return ids.astype("int64[pyarrow]").astype("string[pyarrow]").astype("str")
    return ids.astype("str")


def _id_column(raw: pd.Series) -> tuple[pd.Series, str | None]:
    """(ids, kind): integers (or whole floats) as Int64, text as ``str``; no ids -> kind None.

    Booleans, timestamps and fractional numbers are not ids: they come back missing.
    """
    raw = raw.reset_index(drop=True)
    if raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) in _NUMBER_KINDS:
        raw = pd.to_numeric(raw, errors="coerce")  # Python numbers, not text
    dtype = raw.dtype
    if raw.isna().all():
        return raw.astype("Int64" if dtype.kind in "iuf" else "str"), None
    if pd.api.types.is_bool_dtype(dtype) or dtype.kind in "mM":
        return pd.Series(pd.NA, index=raw.index, dtype="Int64"), "integer"
    if pd.api.types.is_integer_dtype(dtype):
        return raw.astype("Int64"), "integer"
    if pd.api.types.is_float_dtype(dtype):
        whole = raw.where(np.isfinite(raw) & (raw == np.floor(raw)) & (raw.abs() < 2**62))
        return whole.astype("Int64"), "integer"
    text = raw.astype("str")
    return text.where(text.str.len() > 0), "text"


def lead_positions(lead_ids: pd.Series, child_ids: pd.Series) -> np.ndarray:
    """Row of each event's lead in the leads table, -1 where there is none."""
    known = np.flatnonzero(lead_ids.notna().to_numpy())
    child_missing = child_ids.isna().to_numpy()
    if lead_ids.dtype == "Int64":
        index = pd.Index(lead_ids.iloc[known].to_numpy(dtype=np.int64))
        child = child_ids.fillna(0).to_numpy(dtype=np.int64)
        found = index.get_indexer(child)
    else:  # look up each distinct text id once: hashing 25M strings is the slow part
        codes, uniques = pd.factorize(child_ids)
        found = np.append(pd.Index(lead_ids.iloc[known]).get_indexer(uniques), -1)[codes]
    found[child_missing] = -1
    if len(known) == len(lead_ids):  # no lead without an id: positions need no mapping
        return found
    return np.where(found >= 0, known[found], -1)
