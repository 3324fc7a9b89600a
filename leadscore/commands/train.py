"""``leadscore train``: from a history (here or on Dask) or from a flat export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.errors import InputError
from core.settings import Settings, get_settings
from leadscore.commands.common import (
    DATA_HELP,
    RAW,
    RULES,
    RULES_HELP,
    SEED,
    DayFirst,
    Engine,
    Scheduler,
    choose_engine,
    configure_tracking,
    dask_partitions,
    date_convention,
    emit_json,
    progress,
)


def train(
    data: Annotated[Path | None, typer.Option(help=DATA_HELP, show_default=RAW)] = None,
    rules: Annotated[Path | None, typer.Option(help=RULES_HELP, show_default=RULES)] = None,
    promote: Annotated[
        bool | None,
        typer.Option(
            "--promote/--no-promote",
            help="Force or forbid making the new version champion.",
            show_default="the champion gate decides",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.", show_default=SEED)] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the test metrics as one JSON object.")
    ] = False,
    table: Annotated[
        Path | None,
        typer.Option(
            help="Train from a flat CRM export (one row per lead) instead of history.",
            show_default="none: train from the history in --data",
        ),
    ] = None,
    label: Annotated[
        str | None,
        typer.Option(help="--table: the converted-or-not column.", show_default="none: required"),
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="--table: the lead id column.", show_default="none")
    ] = None,
    time_column: Annotated[
        str | None,
        typer.Option(
            "--time",
            help="--table: time column for a time-based split.",
            show_default="none: a random split",
        ),
    ] = None,
    allow_leaky: Annotated[
        list[str] | None,
        typer.Option(
            help="--table: use this column although it looks like the outcome.",
            show_default="none",
        ),
    ] = None,
    dayfirst: DayFirst = None,
    drop_suspects: Annotated[
        bool,
        typer.Option(help="--table: leave out columns that nearly give the label away."),
    ] = False,
    engine: Engine = None,
    scheduler: Scheduler = None,
) -> None:
    """Train, evaluate against the hand-set rules, log to MLflow, register and gate both models.

    With --table, train one model from a flat export instead, refusing columns that leak the
    label unless allowed. With --engine dask, the training sets are built on partitions of
    whole leads and the trees grown by lightgbm.dask on the cluster's workers."""
    settings = get_settings()
    engine, address = choose_engine(engine, scheduler, settings)
    if table is not None and engine == "dask":
        raise InputError("--table trains on one machine: leave out --engine dask")
    if table is not None:
        _train_from_table(
            table,
            label,
            id_column,
            time_column,
            allow_leaky or [],
            seed,
            promote,
            json_output,
            date_convention(dayfirst),
            drop_suspects,
        )
        return
    from features.build import build_training_sets
    from features.io import read_import_report, read_lead_history, read_truth
    from training.rules import default_rules_path, load_rules
    from training.run import train_transition
    from training.split import trainable_sets
    from training.summary import comparison_table, results_json

    data = data or settings.data_dir / "raw"
    hand_set = load_rules(rules or settings.rules_path or default_rules_path())
    if engine == "dask":
        results, skipped = _train_on_dask(data, hand_set, address, settings, seed, promote)
        if json_output:
            emit_json(results_json(results, skipped))
        else:
            typer.echo(comparison_table(results, skipped))
        return
    history, set_aside = read_lead_history(data)
    for item in set_aside:
        progress(item.describe())
    sets = build_training_sets(
        history, horizon_days=settings.horizon_days, set_aside=set_aside, progress=progress
    )
    # every transition, before the first is trained: those that cannot give even the floor are
    # left out and named (none left: the first one's TooFewRowsError)
    sets, skipped = trainable_sets(sets, settings.min_positives)
    for left_out in skipped:
        progress(f"[{left_out.transition}] skipped, not trained: {left_out.reason}")
    configure_tracking(settings)
    truth = read_truth(data)
    imported = read_import_report(data)
    for field in (imported or {}).get("leaky_fields", []):
        progress(f"import: {field['table']}.{field['column']} [{field['action']}]")
    results = [
        train_transition(
            training_set,
            history,
            hand_set,
            truth=truth,
            seed=settings.seed if seed is None else seed,
            promote=promote,
            progress=progress,
            import_report=imported,
            min_positives=settings.min_positives,
            prior=settings.rules_prior,
            monotone=settings.rules_prior_monotone,
            horizons_days=settings.horizons_days,
        )
        for training_set in sets.values()
    ]
    if json_output:
        emit_json(results_json(results, skipped))
    else:
        typer.echo(comparison_table(results, skipped))


def _train_on_dask(
    data: Path,
    hand_set: object,
    address: str | None,
    settings: Settings,
    seed: int | None,
    promote: bool | None,
) -> tuple[list, list]:
    from features.distributed.cluster import dask_client
    from features.distributed.dataset import table_files
    from features.io import read_import_report, read_truth
    from training.distributed.train import train_on_cluster

    table_files(data)  # a missing folder or table fails before a cluster starts
    imported = read_import_report(data)
    for field in (imported or {}).get("leaky_fields", []):
        progress(f"import: {field['table']}.{field['column']} [{field['action']}]")
    with dask_client(address) as client:
        return train_on_cluster(
            client,
            dask_partitions(client, data),
            hand_set,
            horizon_days=settings.horizon_days,
            min_positives=settings.min_positives,
            progress=progress,
            connect_tracking=lambda: configure_tracking(settings),
            truth=read_truth(data),
            seed=settings.seed if seed is None else seed,
            promote=promote,
            import_report=imported,
            prior=settings.rules_prior,
            monotone=settings.rules_prior_monotone,
        )


def _train_from_table(
    table: Path,
    label: str | None,
    id_column: str | None,
    time_column: str | None,
    allow_leaky: list[str],
    seed: int | None,
    promote: bool | None,
    json_output: bool,
    dates: str | None = None,
    drop_suspects: bool = False,
) -> None:
    from training.flat.run import train_from_table
    from training.flat.summary import flat_json, flat_summary

    if not label:
        raise InputError("--table needs --label COLUMN (the converted-or-not column)")
    settings = get_settings()
    seed = settings.seed if seed is None else seed
    result = train_from_table(
        table,
        label=label,
        id_column=id_column,
        time_column=time_column,
        allow_leaky=allow_leaky,
        seed=seed,
        dates=dates,
        drop_suspects=drop_suspects,
        promote=promote,
        progress=progress,
        connect_tracking=lambda: configure_tracking(settings),  # after the table's checks
    )
    if json_output:
        emit_json(flat_json(result))
    else:
        typer.echo(flat_summary(result))
