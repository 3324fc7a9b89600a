"""The one command line: ``leadscore <job>``. Each command reads settings, calls one library
function and prints; progress goes to stderr, results to stdout. Bad input ends with one line
on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from core.errors import InputError, LeadscoreError
from core.jsonable import json_ready
from core.paths import output_folder
from core.settings import Settings, get_settings
from leadscore.progress import StderrProgress

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Learned lead-conversion probabilities next to hand-set scores.",
)


DayFirst = Annotated[
    bool | None,
    typer.Option(
        "--dayfirst/--monthfirst",
        help="Read dates like 02/01/2023 day-first or month-first where a column's values "
        "do not prove it.",
        show_default="refuse such columns",
    ),
]


def _convention(dayfirst: bool | None) -> str | None:
    return None if dayfirst is None else "dayfirst" if dayfirst else "monthfirst"


# progress of long jobs, on stderr so stdout holds only results (--json output stays clean):
# bars with the time left on a terminal, plain lines in CI and logs
progress = StderrProgress()


def _setting(name: str, variable: str) -> str:
    """What --help shows as the default of an option that falls back to a setting: the built-in
    value and the variable that changes it (the environment is read when a command runs)."""
    return f"{Settings.model_fields[name].default}, or ${variable}"


def _under_data(folder: str) -> str:
    default = Settings.model_fields["data_dir"].default / folder
    return f"{default}, or {folder}/ in $LEADSCORE_DATA_DIR"


_SEED = _setting("seed", "LEADSCORE_SEED")
_RAW = _under_data("raw")
_RULES = "the shipped models/hand_set_rules.yaml, or $LEADSCORE_RULES_PATH"
_DATA_HELP = "Folder of the three tables (leads, touches, stage_changes)."
_RULES_HELP = "Hand-set rules file."
_ENGINES = ("local", "dask")

Engine = Annotated[
    str | None,
    typer.Option(
        help="local (pandas here) or dask (partitions of whole leads on a Dask cluster; the "
        "tables as Parquet files or folders of them).",
        show_default=_setting("engine", "LEADSCORE_ENGINE"),
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        help="--engine dask: the Dask scheduler's address (tcp://host:8786).",
        show_default="a LocalCluster on this machine, or $LEADSCORE_SCHEDULER",
    ),
]


def _engine(
    engine: str | None, scheduler: str | None, settings: Settings
) -> tuple[str, str | None]:
    """(engine, scheduler address): the options, else the settings."""
    chosen = engine or settings.engine
    if chosen not in _ENGINES:
        raise InputError(f"--engine {chosen!r}: use local or dask")
    address = scheduler or settings.scheduler
    if address and chosen != "dask":
        raise InputError("--scheduler needs --engine dask")
    return chosen, address


def _configure_tracking(settings: Settings) -> None:
    """Point MLflow at the configured store before any job logs to it."""
    from training import tracking

    tracking.configure(
        settings.mlflow_tracking_uri, settings.mlflow_artifacts_dir, settings.experiment
    )


def emit_json(value: object) -> None:
    """One JSON object on stdout."""
    typer.echo(json.dumps(json_ready(value), default=str, allow_nan=False))


@app.command()
def generate(
    leads: Annotated[int, typer.Option(min=1, help="Number of leads to simulate.")] = 20_000,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the tables.", show_default=_under_data("raw"))
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.", show_default=_SEED)] = None,
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


@app.command("features")
def build_features_command(
    data: Annotated[Path | None, typer.Option(help=_DATA_HELP, show_default=_RAW)] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for training sets.", show_default=_under_data("features")),
    ] = None,
    horizon_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Conversion horizon in days.",
            show_default=_setting("horizon_days", "LEADSCORE_HORIZON_DAYS"),
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
    engine, address = _engine(engine, scheduler, settings)
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
        _show_manifest(name, training_set.manifest, out / f"{name}.parquet")


def _show_manifest(name: str, manifest: dict, written: Path) -> None:
    shown = {k: v for k, v in manifest.items() if k != "features"}
    shown["features"] = f"{len(manifest['features'])} (names and kinds in file)"
    shown["file"] = str(written)
    typer.echo(json.dumps({name: shown}, indent=2, default=str))


def _dask_partitions(client: object, data: Path):
    """The history of ``data`` as partitions of whole leads for ``client``'s workers."""
    from features.distributed.cluster import worker_count
    from features.distributed.dataset import lead_partitions

    workers = worker_count(client)
    progress(f"dask: {workers} worker(s), scheduler {client.scheduler.address}")
    partitions = lead_partitions(data, workers=workers)
    how = "shuffled by lead" if partitions.shuffled else "partitioned by lead already"
    progress(f"dask: {len(partitions.parts):,} partitions of whole leads ({how})")
    return partitions


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
            _dask_partitions(client, data),
            horizon_days=horizon_days,
            data_end=data_end,
            out=out,
            progress=progress,
        )
    for item in set_aside:
        progress(item.describe())
    for name, training_set in sets.items():
        _show_manifest(name, training_set.manifest, out / name)


@app.command()
def train(
    data: Annotated[Path | None, typer.Option(help=_DATA_HELP, show_default=_RAW)] = None,
    rules: Annotated[Path | None, typer.Option(help=_RULES_HELP, show_default=_RULES)] = None,
    promote: Annotated[
        bool | None,
        typer.Option(
            "--promote/--no-promote",
            help="Force or forbid making the new version champion.",
            show_default="the champion gate decides",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.", show_default=_SEED)] = None,
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
    engine, address = _engine(engine, scheduler, settings)
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
            _convention(dayfirst),
            drop_suspects,
        )
        return
    from features.build import build_training_sets
    from features.io import read_import_report, read_lead_history, read_truth
    from training.rules import default_rules_path, load_rules
    from training.run import split_for_training, train_transition
    from training.summary import comparison_table

    data = data or settings.data_dir / "raw"
    hand_set = load_rules(rules or settings.rules_path or default_rules_path())
    if engine == "dask":
        results = _train_on_dask(data, hand_set, address, settings, seed, promote)
        if json_output:
            emit_json({r.transition: r.metrics for r in results})
        else:
            typer.echo(comparison_table(results))
        return
    history, set_aside = read_lead_history(data)
    for item in set_aside:
        progress(item.describe())
    sets = build_training_sets(
        history, horizon_days=settings.horizon_days, set_aside=set_aside, progress=progress
    )
    for training_set in sets.values():  # every transition, before the first is trained
        split_for_training(training_set, settings.min_positives)
    _configure_tracking(settings)
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
        emit_json({r.transition: r.metrics for r in results})
    else:
        typer.echo(comparison_table(results))


def _train_on_dask(
    data: Path,
    hand_set: object,
    address: str | None,
    settings: Settings,
    seed: int | None,
    promote: bool | None,
) -> list:
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
            _dask_partitions(client, data),
            hand_set,
            horizon_days=settings.horizon_days,
            min_positives=settings.min_positives,
            progress=progress,
            connect_tracking=lambda: _configure_tracking(settings),
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
    from training.flat.run import check_table, train_checked
    from training.flat.summary import flat_json, flat_summary

    if not label:
        raise InputError("--table needs --label COLUMN (the converted-or-not column)")
    settings = get_settings()
    seed = settings.seed if seed is None else seed
    inputs = check_table(
        table,
        label=label,
        id_column=id_column,
        time_column=time_column,
        allow_leaky=allow_leaky,
        seed=seed,
        dates=dates,
        drop_suspects=drop_suspects,
    )
    _configure_tracking(settings)  # only now: a bad file fails before the store says anything
    result = train_checked(inputs, seed=seed, promote=promote, progress=progress)
    if json_output:
        emit_json(flat_json(result))
    else:
        typer.echo(flat_summary(result))


@app.command("import")
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
        Path | None, typer.Option(help="Folder for the three tables.", show_default=_RAW)
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
    report = import_export(source, mapping, out, dates=_convention(dayfirst), progress=progress)
    if json_output:
        emit_json(report.to_dict())
    else:
        typer.echo(report.text())
        progress(f"next: leadscore features --data {out}  (or leadscore train --data {out})")


@app.command()
def weights(
    data: Annotated[Path | None, typer.Option(help=_DATA_HELP, show_default=_RAW)] = None,
    rules: Annotated[Path | None, typer.Option(help=_RULES_HELP, show_default=_RULES)] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the report.", show_default=_under_data("weights")),
    ] = None,
    transition: Annotated[str, typer.Option(help="mql_to_sql or sql_to_won.")] = "mql_to_sql",
    capacity: Annotated[
        float | None,
        typer.Option(
            help="Leads sales can take a month.",
            show_default="as many as the hand-set threshold passed a month",
        ),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option(min=0, max=2000, help="Resamples for the intervals.")
    ] = 200,
    seed: Annotated[int | None, typer.Option(help="Random seed.", show_default=_SEED)] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the comparison as one JSON object.")
    ] = False,
) -> None:
    """Compare the hand-set points with what your history supports; write and log the report
    (report.html, learned_rules.yaml to adopt, weights.json)."""
    from features.io import read_lead_history
    from training.rules import default_rules_path, load_rules
    from training.weights.report.publish import run_weights_report, summary_text

    settings = get_settings()
    hand_set = load_rules(rules or settings.rules_path or default_rules_path())
    history, set_aside = read_lead_history(data or settings.data_dir / "raw")
    out = output_folder(out or settings.data_dir / "weights")  # before the comparison
    for item in set_aside:
        progress(item.describe())
    _configure_tracking(settings)
    report = run_weights_report(
        history,
        hand_set,
        out,
        transition=transition,
        capacity_per_month=capacity,
        seed=settings.seed if seed is None else seed,
        bootstrap=bootstrap,
        horizon_days=settings.horizon_days,
        progress=progress,
    )
    if json_output:
        emit_json(report.comparison.to_dict())
    else:
        typer.echo(summary_text(report.comparison))
        progress(f"report: {report.files['report.html']}")


@app.command()
def score(
    data: Annotated[Path | None, typer.Option(help=_DATA_HELP, show_default=_RAW)] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the scores (Parquet).", show_default=_under_data("scores")),
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
    partition with --engine dask)."""
    settings = get_settings()
    engine, address = _engine(engine, scheduler, settings)
    data = data or settings.data_dir / "raw"
    out = output_folder(out or settings.data_dir / "scores")  # before the work
    if engine == "dask":
        scored, set_aside, as_of_used = _score_on_dask(
            data, lambda: _champions(settings), as_of, out, address
        )
    else:
        from features.decision_points import data_end_of
        from features.io import read_lead_history
        from training.distributed.score import clear_parts, score_history, write_scores

        history, set_aside = read_lead_history(data)
        bundles = _champions(settings)
        as_of_used = pd_timestamp(as_of) if as_of else data_end_of(history)
        progress(f"scoring {len(history.leads):,} leads as of {as_of_used} ...")
        scores = score_history(history, bundles, as_of_used)
        write_scores(scores, clear_parts(out))
        scored = len(scores)
    for item in set_aside:
        progress(item.describe())
    typer.echo(f"scored {scored:,} leads as of {as_of_used} into {out}")


def _champions(settings: Settings) -> dict:
    """Both transitions' champion bundles from the registry; none is an error saying so."""
    from core.contract import TRANSITIONS
    from training import tracking

    _configure_tracking(settings)
    bundles = {}
    for transition in TRANSITIONS:
        bundle = tracking.load_bundle(transition)
        if bundle is None:
            name = tracking.registered_name(transition)
            raise InputError(f"{name}: no champion to score with; train first (leadscore train)")
        bundles[transition] = bundle
    return bundles


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
        bundles = champions()
        partitions = _dask_partitions(client, data)
        as_of_used = pd_timestamp(as_of) if as_of else data_end_on_cluster(client, partitions, now)
        progress(f"scoring as of {as_of_used} ...")
        scored, set_aside = score_on_cluster(
            client, partitions, bundles, as_of=as_of_used, out=out, now=now, progress=progress
        )
    return scored, set_aside, as_of_used


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the scoring API (champions from the MLflow registry, or LEADSCORE_MODEL_DIR).

    Fails fast, before listening, when no trained model is registered: train first."""
    from serving.api.app import run_server

    run_server(host=host, port=port, workers=workers)


def _monitored(transition: str | None) -> list[str]:
    from core.errors import InputError

    known = ["mql_to_sql", "sql_to_won"]
    if transition is None:
        return known
    if transition not in known:
        raise InputError(f"--transition: unknown {transition!r}; use mql_to_sql or sql_to_won")
    return [transition]


@app.command()
def forecast(
    as_of: Annotated[
        datetime, typer.Option("--as-of", help="Forecast from the leads open at this time (UTC).")
    ],
    data: Annotated[Path | None, typer.Option(help=_DATA_HELP, show_default=_RAW)] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for forecast.png and .csv.", show_default=_under_data("forecast")
        ),
    ] = None,
) -> None:
    """Expected SQLs and won deals per coming week and month from the leads open at --as-of,
    with a 90% interval, by the champions' timing models; table on stdout, plot and CSV in
    --out, logged to MLflow. A history that goes on past --as-of shows what happened too."""
    import pandas as pd

    from features.io import read_lead_history
    from training.forecast import forecast_text, log_forecast, run_forecast

    settings = get_settings()
    out = output_folder(out or settings.data_dir / "forecast")  # before the work
    history, set_aside = read_lead_history(data or settings.data_dir / "raw")
    for item in set_aside:
        progress(item.describe())
    _configure_tracking(settings)
    result = run_forecast(history, pd.Timestamp(as_of), progress=progress)
    files = [out / "forecast.png", out / "forecast.csv"]
    result.figure.savefig(files[0], dpi=110)
    pd.concat(result.tables, names=["transition", "row"]).to_csv(files[1])
    result.run_id = log_forecast(result, files)
    typer.echo(forecast_text(result))
    progress(f"plot: {files[0]}; logged to MLflow run {result.run_id}")


@app.command()
def monitor(
    since: Annotated[datetime, typer.Option(help="Judge leads scored from this day (UTC).")],
    until: Annotated[
        datetime | None,
        typer.Option(help="End of the period, exclusive.", show_default="today 00:00 UTC"),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(help="Training run whose data is the reference.", show_default="champion's"),
    ] = None,
    transition: Annotated[
        str | None, typer.Option(help="mql_to_sql or sql_to_won.", show_default="both")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="Folder of the three tables, for outcomes.", show_default=_RAW),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the report.", show_default=_under_data("monitor")),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON object.")
    ] = False,
) -> None:
    """Judge the leads the API scored since a day against the model's training data and the
    outcomes known by now: weekly drift (PSI), calibration and AUC on matured cohorts, score
    inflation. Writes report.html, logs it to MLflow, updates the API's gauges; exit code 1
    when an alarm fires."""
    import pandas as pd

    from core.settings import outcome_days_of, score_store_of
    from features.io import read_lead_history
    from training.monitoring.report import summary_text
    from training.monitoring.run import run_monitor

    settings = get_settings()
    transitions = _monitored(transition)
    out = output_folder(out or settings.data_dir / "monitor")  # before the work

    def load_history():
        history, set_aside = read_lead_history(data or settings.data_dir / "raw")
        for item in set_aside:
            progress(item.describe())
        return history

    result = run_monitor(
        store=score_store_of(settings),
        load_history=load_history,
        since=pd.Timestamp(since),
        until=pd.Timestamp(until)
        if until
        else pd.Timestamp.now("UTC").normalize().tz_localize(None),
        transitions=transitions,
        reference_run=reference,
        outcome_days=outcome_days_of(settings),
        capacity_per_week=settings.sales_capacity_per_week,
        out=out,
        connect_tracking=lambda: _configure_tracking(settings),
        progress=progress,
    )
    if json_output:
        emit_json(result.summary)
    else:
        typer.echo(summary_text(result.findings))
    progress(f"report: {result.files['report.html']}")
    if result.alarms:
        raise typer.Exit(1)


@app.command()
def demo(
    leads: Annotated[int, typer.Option(min=1, help="Number of leads to simulate.")] = 20_000,
) -> None:
    """The main job end to end on embedded defaults: simulate, build training sets, train and
    compare both models with the hand-set rules, log and register them in MLflow; then one CRM
    import (a simulated Salesforce export), and the next steps to try."""
    from leadscore.next_steps import EXAMPLE_LEAD, next_steps, scripts_folder

    generate(leads=leads, out=None, seed=None, start=datetime(2024, 1, 1), days=730, fmt="contract")
    build_features_command(
        data=None, out=None, horizon_days=None, data_end=None, engine=None, scheduler=None
    )
    train(
        data=None,
        rules=None,
        promote=None,
        seed=None,
        json_output=False,
        table=None,
        label=None,
        id_column=None,
        time_column=None,
        allow_leaky=None,
        dayfirst=None,
        drop_suspects=False,
        engine=None,
        scheduler=None,
    )
    settings = get_settings()
    export = settings.data_dir / "salesforce-export"
    typer.echo("\none CRM import: a simulated Salesforce export, read as your CRM's would be")
    generate(
        leads=3_000, out=export, seed=None, start=datetime(2024, 1, 1), days=730, fmt="salesforce"
    )
    from features.importing.parse import load_mapping
    from features.importing.run import import_export

    imported = settings.data_dir / "imported"
    report = import_export(export, load_mapping("salesforce"), imported, progress=progress)
    typer.echo(report.text())
    example = settings.data_dir / "example_lead.json"
    example.write_text(json.dumps(EXAMPLE_LEAD, indent=2) + "\n")
    typer.echo("")
    lines = next_steps(
        scripts=scripts_folder(),
        tracking_uri=os.environ.get("MLFLOW_TRACKING_URI") or settings.mlflow_tracking_uri,
        example_lead=example,
        weights_report=settings.data_dir / "weights" / "report.html",
    )
    typer.echo("\n".join(lines))


def main() -> None:
    """Console entry point: every failure is one stderr line and its exit code.

    Our errors map by family (``LeadscoreError.exit_code``); the command line's own usage
    errors (an option out of range, an unknown command) exit 2 too, as one ``error:`` line
    rather than Click's usage box. Typer bundles its own Click, so those are recognised by what
    Click's errors carry: ``format_message()`` and an ``exit_code``.
    """
    try:
        code = app(standalone_mode=False)
    except LeadscoreError as error:
        _fail(str(error), error.exit_code)
    except typer.Abort:
        _fail("aborted", 1)
    except Exception as error:
        if not (hasattr(error, "format_message") and isinstance(error.exit_code, int)):
            raise
        _fail(error.format_message(), error.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, exit_code: int) -> None:
    if message:  # none after the help shown for a bare ``leadscore``
        typer.echo(f"error: {message}", err=True)
    sys.exit(exit_code)
