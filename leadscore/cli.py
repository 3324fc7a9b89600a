"""The one command line: ``leadscore <job>``. Each command reads settings, calls one library
function and prints; progress goes to stderr, results to stdout. Bad input ends with one line
on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import sys

import typer

from core.errors import LeadscoreError
from leadscore.commands import data, demo, models, reports, score, train

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Learned lead-conversion probabilities next to hand-set scores.",
)
# in the order a new user meets them
app.command()(demo.demo)
app.command()(data.generate)
app.command("import")(data.import_command)
app.command("features")(data.build_features_command)
app.command()(train.train)
app.command()(reports.weights)
app.command()(score.score)
app.command()(score.serve)
app.command()(models.models)
app.command()(models.rollback)
app.command()(reports.forecast)
app.command()(reports.monitor)


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
