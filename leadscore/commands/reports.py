"""Commands that judge and look ahead: the weights comparison, monitoring, the pipeline forecast."""

from __future__ import annotations

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
    RULES,
    RULES_HELP,
    SEED,
    configure_tracking,
    emit_json,
    progress,
    under_data,
)


def weights(
    data: Annotated[Path | None, typer.Option(help=DATA_HELP, show_default=RAW)] = None,
    rules: Annotated[Path | None, typer.Option(help=RULES_HELP, show_default=RULES)] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the report.", show_default=under_data("weights")),
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
    seed: Annotated[int | None, typer.Option(help="Random seed.", show_default=SEED)] = None,
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
    configure_tracking(settings)
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


def _monitored(transition: str | None) -> list[str]:

    known = ["mql_to_sql", "sql_to_won"]
    if transition is None:
        return known
    if transition not in known:
        raise InputError(f"--transition: unknown {transition!r}; use mql_to_sql or sql_to_won")
    return [transition]


def forecast(
    as_of: Annotated[
        datetime, typer.Option("--as-of", help="Forecast from the leads open at this time (UTC).")
    ],
    data: Annotated[Path | None, typer.Option(help=DATA_HELP, show_default=RAW)] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for forecast.png and .csv.", show_default=under_data("forecast")),
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
    configure_tracking(settings)
    result = run_forecast(history, pd.Timestamp(as_of), progress=progress)
    files = [out / "forecast.png", out / "forecast.csv"]
    result.figure.savefig(files[0], dpi=110)
    pd.concat(result.tables, names=["transition", "row"]).to_csv(files[1])
    result.run_id = log_forecast(result, files)
    typer.echo(forecast_text(result))
    progress(f"plot: {files[0]}; logged to MLflow run {result.run_id}")


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
        typer.Option(help="Folder of the three tables, for outcomes.", show_default=RAW),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the report.", show_default=under_data("monitor")),
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
        connect_tracking=lambda: configure_tracking(settings),
        progress=progress,
    )
    if json_output:
        emit_json(result.summary)
    else:
        typer.echo(summary_text(result.findings))
    progress(f"report: {result.files['report.html']}")
    if result.alarms:
        raise typer.Exit(1)
