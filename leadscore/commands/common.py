"""What the commands share: options and their shown defaults, the progress display on stderr, the
engine choice, the MLflow connection and JSON output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from core.errors import InputError
from core.jsonable import json_ready
from core.settings import Settings
from leadscore.progress import StderrProgress

DayFirst = Annotated[
    bool | None,
    typer.Option(
        "--dayfirst/--monthfirst",
        help="Read dates like 02/01/2023 day-first or month-first where a column's values "
        "do not prove it.",
        show_default="refuse such columns",
    ),
]


def date_convention(dayfirst: bool | None) -> str | None:
    return None if dayfirst is None else "dayfirst" if dayfirst else "monthfirst"


# progress of long jobs, on stderr so stdout holds only results (--json output stays clean):
# bars with the time left on a terminal, plain lines in CI and logs
progress = StderrProgress()


def setting_default(name: str, variable: str) -> str:
    """What --help shows as the default of an option that falls back to a setting: the built-in
    value and the variable that changes it (the environment is read when a command runs)."""
    return f"{Settings.model_fields[name].default}, or ${variable}"


def under_data(folder: str) -> str:
    default = Settings.model_fields["data_dir"].default / folder
    return f"{default}, or {folder}/ in $LEADSCORE_DATA_DIR"


SEED = setting_default("seed", "LEADSCORE_SEED")


RAW = under_data("raw")


RULES = "the shipped models/hand_set_rules.yaml, or $LEADSCORE_RULES_PATH"


DATA_HELP = "Folder of the three tables (leads, touches, stage_changes)."


RULES_HELP = "Hand-set rules file."


ENGINES = ("local", "dask")


Engine = Annotated[
    str | None,
    typer.Option(
        help="local (pandas here) or dask (partitions of whole leads on a Dask cluster; the "
        "tables as Parquet files or folders of them).",
        show_default=setting_default("engine", "LEADSCORE_ENGINE"),
    ),
]


Scheduler = Annotated[
    str | None,
    typer.Option(
        help="--engine dask: the Dask scheduler's address (tcp://host:8786).",
        show_default="a LocalCluster on this machine, or $LEADSCORE_SCHEDULER",
    ),
]


def choose_engine(
    engine: str | None, scheduler: str | None, settings: Settings
) -> tuple[str, str | None]:
    """(engine, scheduler address): the options, else the settings."""
    chosen = engine or settings.engine
    if chosen not in ENGINES:
        raise InputError(f"--engine {chosen!r}: use local or dask")
    address = scheduler or settings.scheduler
    if address and chosen != "dask":
        raise InputError("--scheduler needs --engine dask")
    return chosen, address


def configure_tracking(settings: Settings) -> None:
    """Point MLflow at the configured store before any job logs to it."""
    from training import tracking

    tracking.configure(
        settings.mlflow_tracking_uri, settings.mlflow_artifacts_dir, settings.experiment
    )


def emit_json(value: object) -> None:
    """One JSON object on stdout."""
    typer.echo(json.dumps(json_ready(value), default=str, allow_nan=False))


def dask_partitions(client: object, data: Path):
    """The history of ``data`` as partitions of whole leads for ``client``'s workers."""
    from features.distributed.cluster import worker_count
    from features.distributed.dataset import lead_partitions

    workers = worker_count(client)
    progress(f"dask: {workers} worker(s), scheduler {client.scheduler.address}")
    partitions = lead_partitions(data, workers=workers)
    how = "shuffled by lead" if partitions.shuffled else "partitioned by lead already"
    progress(f"dask: {len(partitions.parts):,} partitions of whole leads ({how})")
    return partitions
