"""Commands that make and read lead histories: simulate one, import a CRM export, build the
training sets."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from core.errors import InputError
from core.paths import output_folder
from core.settings import get_settings
from leadscore.commands.common import (
    DATA_HELP,
    RAW,
    SEED,
    DayFirst,
    Engine,
    Scheduler,
    choose_engine,
    dask_partitions,
    date_convention,
    emit_json,
    progress,
    setting_default,
    under_data,
)


def generate(
    leads: Annotated[int, typer.Option(min=1, help="Number of leads to simulate.")] = 20_000,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the tables.", show_default=under_data("raw"))
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.", show_default=SEED)] = None,
    start: Annotated[datetime, typer.Option(help="First lead's earliest creation day.")] = datetime(
        2024, 1, 1
    ),
    days: Annotated[int, typer.Option(min=30, help="Length of the simulated period.")] = 730,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="contract (the three tables), or as a CRM exports it: salesforce, hubspot, "
            "hubspot-labels, fivetran, fivetran-duckdb.",
        ),
    ] = "contract",
) -> None:
    """Simulate a B2B lead history (leads, touches, stage changes) plus its truth file, or
    write it as a CRM export (``leadscore import`` reads it back)."""
    from features.exporting.formats import FORMATS, write_export
    from features.io import write_simulation
    from features.simulate import simulate

    if fmt != "contract" and fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: use contract or one of {', '.join(FORMATS)}")
    settings = get_settings()
    out = output_folder(out or settings.data_dir / "raw")  # before minutes of simulating
    sim = simulate(
        leads,
        seed=settings.seed if seed is None else seed,
        start=start,
        days=days,
        progress=progress,
    )
    if fmt != "contract":
        written = write_export(sim.history, out, fmt, seed=settings.seed if seed is None else seed)
        typer.echo(f"wrote {len(sim.history.leads):,} leads as a {fmt} export to {written}")
        return
    write_simulation(sim, out)
    h = sim.history
    typer.echo(
        f"wrote {len(h.leads):,} leads, {len(h.touches):,} touches, "
        f"{len(h.stage_changes):,} stage changes to {out}"
    )


def build_features_command(
    data: Annotated[Path | None, typer.Option(help=DATA_HELP, show_default=RAW)] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for training sets.", show_default=under_data("features")),
    ] = None,
    horizon_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Conversion horizon in days.",
            show_default=setting_default("horizon_days", "LEADSCORE_HORIZON_DAYS"),
        ),
    ] = None,
    data_end: Annotated[
        datetime | None,
        typer.Option(help="When the data ends.", show_default="the latest timestamp in it"),
    ] = None,
    engine: Engine = None,
    scheduler: Scheduler = None,
) -> None:
    """Build the point-in-time training sets mql_to_sql and sql_to_won and their manifests.

    With --engine dask, on partitions of whole leads, written as partitioned Parquet
    ({out}/{set}/part.NNNNN.parquet)."""
    from features.build import build_training_sets
    from features.io import read_lead_history, write_training_set

    settings = get_settings()
    engine, address = choose_engine(engine, scheduler, settings)
    data = data or settings.data_dir / "raw"
    if engine == "dask":
        _features_on_dask(
            data,
            out or settings.data_dir / "features",
            horizon_days or settings.horizon_days,
            data_end,
            address,
        )
        return
    history, set_aside = read_lead_history(data)
    out = output_folder(out or settings.data_dir / "features")  # before the build
    for item in set_aside:
        progress(item.describe())
    sets = build_training_sets(
        history,
        horizon_days=horizon_days or settings.horizon_days,
        data_end=data_end,
        set_aside=set_aside,
        progress=progress,
    )
    for name, training_set in sets.items():
        write_training_set(training_set, out, name)
        show_manifest(name, training_set.manifest, out / f"{name}.parquet")


def show_manifest(name: str, manifest: dict, written: Path) -> None:
    shown = {k: v for k, v in manifest.items() if k != "features"}
    shown["features"] = f"{len(manifest['features'])} (names and kinds in file)"
    shown["file"] = str(written)
    typer.echo(json.dumps({name: shown}, indent=2, default=str))


def _features_on_dask(
    data: Path, out: Path, horizon_days: int, data_end: datetime | None, address: str | None
) -> None:
    from features.distributed.build import build_on_cluster
    from features.distributed.cluster import dask_client
    from features.distributed.dataset import table_files

    table_files(data)  # a missing folder or table fails before a cluster starts
    out = output_folder(out)
    with dask_client(address) as client:
        sets, set_aside = build_on_cluster(
            client,
            dask_partitions(client, data),
            horizon_days=horizon_days,
            data_end=data_end,
            out=out,
            progress=progress,
        )
    for item in set_aside:
        progress(item.describe())
    for name, training_set in sets.items():
        show_manifest(name, training_set.manifest, out / name)


def import_command(
    source: Annotated[
        Path | None, typer.Argument(help="The export: a folder of CSV/Parquet files, or DuckDB.")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="salesforce, hubspot, fivetran, or a mapping file (.yaml).",
            show_default="none: required with SOURCE",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the three tables.", show_default=RAW)
    ] = None,
    dayfirst: DayFirst = None,
    show_preset: Annotated[
        str | None,
        typer.Option(
            help="Print a preset's mapping (to copy and edit) and stop.", show_default="none"
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the import report as one JSON object.")
    ] = False,
) -> None:
    """Turn a CRM export into leads, touches and stage changes (Parquet) plus an import report:
    rows in and out, every skip with its reason, date formats, stage coverage, leaky fields."""
    from features.importing.parse import load_mapping, preset_text
    from features.importing.run import import_export

    if show_preset is not None:
        typer.echo(preset_text(show_preset), nl=False)
        return
    if source is None or fmt is None:
        raise InputError(
            "import needs the export and --format (salesforce, hubspot, fivetran or a mapping file)"
        )
    mapping = load_mapping(fmt)
    out = out or get_settings().data_dir / "raw"  # made once the export is found
    report = import_export(source, mapping, out, dates=date_convention(dayfirst), progress=progress)
    if json_output:
        emit_json(report.to_dict())
    else:
        typer.echo(report.text())
        progress(f"next: leadscore features --data {out}  (or leadscore train --data {out})")
