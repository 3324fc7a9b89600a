"""Commands that use the champions: batch scoring and the API."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from core.errors import NoChampionError
from core.paths import output_folder
from core.settings import Settings, get_settings
from leadscore.commands.common import (
    DATA_HELP,
    RAW,
    Engine,
    Scheduler,
    choose_engine,
    configure_tracking,
    dask_partitions,
    progress,
    under_data,
)


def score(
    data: Annotated[Path | None, typer.Option(help=DATA_HELP, show_default=RAW)] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the scores (Parquet).", show_default=under_data("scores")),
    ] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="Score every lead as of this time.", show_default="the data's end"),
    ] = None,
    engine: Engine = None,
    scheduler: Scheduler = None,
) -> None:
    """Score every lead of a history with both champions at one time: probabilities, hand-set
    points and threshold, written as Parquet ({out}/part.NNNNN.parquet, one file per
    partition with --engine dask). A transition without a champion keeps an empty column, and
    the leads that need it are counted on stderr."""
    settings = get_settings()
    engine, address = choose_engine(engine, scheduler, settings)
    data = data or settings.data_dir / "raw"
    out = output_folder(out or settings.data_dir / "scores")  # before the work
    if engine == "dask":
        scored, set_aside, as_of_used, needing = _score_on_dask(
            data, lambda: champions(settings), as_of, out, address
        )
    else:
        from features.decision_points import data_end_of
        from features.io import read_lead_history
        from training.distributed.score import (
            clear_parts,
            needing_of,
            score_history,
            write_scores,
        )

        history, set_aside = read_lead_history(data)
        bundles, unserved = champions(settings)
        as_of_used = pd_timestamp(as_of) if as_of else data_end_of(history)
        progress(f"scoring {len(history.leads):,} leads as of {as_of_used} ...")
        scores = score_history(history, bundles, as_of_used, list(unserved))
        write_scores(scores, clear_parts(out))
        scored = len(scores)
        needing = needing_of(history, as_of_used, list(unserved))
        needing = {t: (unserved[t], n) for t, n in needing.items()}
    for item in set_aside:
        progress(item.describe())
    for transition, (why, leads) in needing.items():
        progress(
            f"[{transition}] not scored: {why}; probability_{transition} left empty for all "
            f"{scored:,} leads ({leads:,} of them {_NEEDS[transition]} as of {as_of_used}: "
            "the leads that need it)"
        )
    typer.echo(f"scored {scored:,} leads as of {as_of_used} into {out}")


# whom a transition's score is for, as the API counts them (``serving.scoring.scorer``)
_NEEDS = {"mql_to_sql": "not yet at SQL", "sql_to_won": "at SQL"}


def champions(settings: Settings) -> tuple[dict, dict[str, str]]:
    """The transitions' champion bundles from the registry, and why each transition without
    one has none; no champion at all is an error saying so."""
    from core.contract import TRANSITIONS
    from training import tracking

    configure_tracking(settings)
    bundles, unserved = {}, {}
    for transition in TRANSITIONS:
        bundle = tracking.load_bundle(transition)
        if bundle is None:
            name = tracking.registered_name(transition)
            unserved[transition] = f"{name} has no champion (train first: leadscore train)"
        else:
            bundles[transition] = bundle
    if not bundles:
        name = tracking.registered_name(next(iter(unserved)))
        raise NoChampionError(f"{name}: no champion to score with; train first (leadscore train)")
    return bundles, unserved


def pd_timestamp(value: datetime):
    """A command-line time as the project's timestamps: UTC without a zone."""
    import pandas as pd

    from core.contract import naive_utc

    return naive_utc(pd.Timestamp(value))


def _score_on_dask(data: Path, champions, as_of: datetime | None, out: Path, address):
    import pandas as pd

    from features.distributed.build import data_end_on_cluster
    from features.distributed.cluster import dask_client
    from features.distributed.dataset import table_files
    from training.distributed.score import score_on_cluster

    table_files(data)  # a missing folder or table fails before a cluster starts
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    with dask_client(address) as client:
        bundles, unserved = champions()
        partitions = dask_partitions(client, data)
        as_of_used = pd_timestamp(as_of) if as_of else data_end_on_cluster(client, partitions, now)
        progress(f"scoring as of {as_of_used} ...")
        scored, set_aside, needing = score_on_cluster(
            client,
            partitions,
            bundles,
            as_of=as_of_used,
            out=out,
            now=now,
            progress=progress,
            unserved=list(unserved),
        )
    return scored, set_aside, as_of_used, {t: (unserved[t], n) for t, n in needing.items()}


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the scoring API (champions from the MLflow registry, or LEADSCORE_MODEL_DIR).

    Serves the transitions that have a champion (GET /v1/models lists the others; leads that
    need one get 503). Fails fast, before listening, when none has one: train first."""
    from serving.api.app import run_server

    run_server(host=host, port=port, workers=workers)
