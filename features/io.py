"""The features package's only file I/O: lead history, simulations and training sets.

Tables are CSV or Parquet, chosen by suffix. Parquet keeps the contract dtypes (categoricals,
``datetime64[ns]``, ``Int64``, ``boolean``) through a round trip; CSV keeps only text, which
``features.validate`` coerces back. A file that is missing or unreadable raises
``DataContractError`` naming it, and a folder that cannot be written (or a file where a folder
belongs) an ``InputError`` naming the path (``core.paths``), so the CLI prints one line instead
of a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pandas as pd
import pyarrow as pa

from core.contract import TABLES
from core.errors import DataContractError, InputError
from core.paths import input_folder, output_folder, writing
from features.history import LeadHistory, SetAside
from features.validate import validate_history

if TYPE_CHECKING:
    from features.simulate import Simulation

FORMATS = (".parquet", ".csv")  # looked for in this order


class TrainingSetLike(Protocol):
    """What ``write_training_set`` needs of ``features.build.TrainingSet``."""

    frame: pd.DataFrame
    manifest: dict


def read_table(path: Path) -> pd.DataFrame:
    """One table as read, untyped beyond what the format carries (validation types it)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataContractError(path.stem, None, f"cannot read {path}: expected .parquet or .csv")
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, low_memory=False)
    except pd.errors.EmptyDataError as error:
        raise DataContractError(path.stem, None, f"cannot read {path}: empty file") from error
    except (OSError, ValueError, pa.ArrowException) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataContractError(path.stem, None, f"cannot read {path}: {reason}") from error


def find_table(directory: Path, table: str) -> Path:
    """``{table}.parquet`` or ``{table}.csv`` in ``directory`` (Parquet wins if both exist)."""
    directory = Path(directory)
    candidates = [directory / f"{table}{suffix}" for suffix in FORMATS]
    for path in candidates:
        if path.is_file():
            return path
    looked_for = " or ".join(str(p) for p in candidates)
    raise DataContractError(table, None, f"table not found: looked for {looked_for}")


def read_lead_history(
    directory: Path, *, now: pd.Timestamp | None = None
) -> tuple[LeadHistory, list[SetAside]]:
    """The three tables of ``directory``, validated (see ``features.validate``)."""
    input_folder(directory, "folder of lead history (leads, touches, stage_changes)")
    frames = {table: read_table(find_table(directory, table)) for table in TABLES}
    return validate_history(frames["leads"], frames["touches"], frames["stage_changes"], now=now)


def write_lead_history(history: LeadHistory, directory: Path, fmt: str = "parquet") -> None:
    """``leads``, ``touches`` and ``stage_changes`` as ``.parquet`` or ``.csv`` in ``directory``.

    CSV timestamps are written as ISO 8601 UTC without a zone, which the reader expects.
    """
    if fmt not in ("parquet", "csv"):
        raise InputError(f"unknown table format {fmt!r}: use 'parquet' or 'csv'")
    directory = output_folder(directory)
    frames = {"leads": history.leads, "touches": history.touches}
    frames["stage_changes"] = history.stage_changes
    for table, frame in frames.items():
        path = directory / f"{table}.{fmt}"
        with writing(path):
            if fmt == "parquet":
                frame.to_parquet(path, index=False)
            else:
                frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%f")


def write_simulation(sim: Simulation, directory: Path) -> None:
    """A simulated history as Parquet, plus ``truth.parquet`` and ``simulation.json``."""
    directory = Path(directory)
    write_lead_history(sim.history, directory, "parquet")
    with writing(directory / "truth.parquet"):
        sim.truth.to_parquet(directory / "truth.parquet", index=False)
    _write_json(sim.metadata, directory / "simulation.json")


def read_truth(directory: Path) -> pd.DataFrame | None:
    """The simulator's ``truth.parquet`` of ``directory``; None for real data, which has none."""
    path = Path(directory) / "truth.parquet"
    return read_table(path) if path.is_file() else None


def read_import_report(directory: Path) -> dict | None:
    """The ``import_report.json`` that ``leadscore import`` wrote beside the tables (its leaky
    fields go into the training run); None for history that was not imported."""
    path = Path(directory) / "import_report.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataContractError("import_report", None, f"cannot read {path}: {error}") from error


def write_training_set(training_set: TrainingSetLike, directory: Path, name: str) -> None:
    """``{name}.parquet`` (the rows) and ``{name}.manifest.json`` (how they were made)."""
    directory = output_folder(directory)
    with writing(directory / f"{name}.parquet"):
        training_set.frame.to_parquet(directory / f"{name}.parquet", index=False)
    _write_json(training_set.manifest, directory / f"{name}.manifest.json")


def read_training_set(directory: Path, name: str) -> tuple[pd.DataFrame, dict]:
    """The frame and manifest ``write_training_set`` wrote under ``name``."""
    directory = Path(directory)
    frame = read_table(directory / f"{name}.parquet")
    path = directory / f"{name}.manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataContractError(name, None, f"cannot read {path}: {error}") from error
    return frame, manifest


def _write_json(data: dict, path: Path) -> None:
    with writing(path):
        path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
