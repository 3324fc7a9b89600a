"""``leadscore models`` and ``leadscore rollback``: see what each registered version is and what
serves, and point ``champion`` back at an earlier version, without the MLflow UI or Python."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from core.settings import get_settings
from leadscore.commands.common import emit_json
from leadscore.next_steps import API_PORT

TRANSITIONS_HELP = "mql_to_sql or sql_to_won."


def models(
    transition: Annotated[
        str | None,
        typer.Option(help=f"Only this transition: {TRANSITIONS_HELP}", show_default="both"),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the versions as one JSON object.")
    ] = False,
) -> None:
    """List each transition's registered versions, newest first: aliases, test ROC-AUC next to
    the hand-set rules' on the same rows, what it serves and the champion gate's decision."""
    from leadscore.registry_view import versions_json, versions_table
    from training.tracking import registry

    transitions = registry.TRANSITIONS if transition is None else (transition,)
    for name in transitions:
        registry.check_transition(name)
    client = registry.existing_store(get_settings().mlflow_tracking_uri)
    found = registry.registered_models(client, transitions)
    if json_output:
        emit_json(versions_json(found))
    else:
        typer.echo(versions_table(found))


def rollback(
    transition: Annotated[
        str,
        typer.Argument(metavar="TRANSITION", help=f"The model to roll back: {TRANSITIONS_HELP}"),
    ],
    to: Annotated[
        str | None,
        typer.Option(
            help="The version to make champion.",
            show_default="the champion before the current one",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(help="Why, recorded on the version.", show_default="none"),
    ] = None,
    port: Annotated[
        int,
        typer.Option(min=1, max=65535, help="Port of the running API, for the reload line."),
    ] = API_PORT,
) -> None:
    """Point the champion alias at another registered version (an earlier champion by
    default) and record who, when, from which version and why; prints how the running API
    picks it up."""
    from leadscore.registry_view import rollback_text
    from training.tracking import registry

    settings = get_settings()
    registry.check_transition(transition)
    client = registry.existing_store(settings.mlflow_tracking_uri)
    done = registry.roll_back(
        client, transition, to=to, by=_who(), at=datetime.now(UTC), reason=reason
    )
    typer.echo(
        rollback_text(
            done,
            port=port,
            has_api_key=settings.api_key is not None,
            model_alias=settings.model_alias,
            model_dir=str(settings.model_dir) if settings.model_dir else None,
        )
    )


def _who() -> str:
    """The user running the command, as the rollback's record names them."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment or the password database
        return os.environ.get("LOGNAME") or "unknown"
