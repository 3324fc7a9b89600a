"""``leadscore demo``: the main job end to end on embedded defaults."""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Annotated

import typer

from core.settings import get_settings
from leadscore.commands.common import progress
from leadscore.commands.data import build_features_command, generate
from leadscore.commands.train import train


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
