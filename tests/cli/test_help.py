"""`leadscore --help` and every command's `--help` as a new user reads them: each option says
what it does and what it defaults to, with nothing eaten by the help formatter's markup."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from leadscore.cli import app

COMMAND = typer.main.get_command(app)  # Typer's own (bundled) Click group
COMMANDS = sorted(COMMAND.commands)


def _help(*args: str) -> str:
    # wide enough that no option's text wraps: one line per option
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return result.output


def _option_lines(text: str) -> dict[str, str]:
    """Each option's line of the help's option table, by its first name."""
    lines = {}
    for line in text.splitlines():
        found = re.match(r"[│|]\s+(?:\*\s+)?(--[a-z-]+)", line)  # "*": a required option
        if found:
            lines[found.group(1)] = re.sub(r"\s+", " ", line)
    return lines


def test_every_command_is_listed_with_its_purpose():
    text = _help()
    for name in COMMANDS:
        assert re.search(rf"│ {name}\s+\S", text), name


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_shows_its_whole_help_and_its_default(name):
    command = COMMAND.commands[name]
    lines = _option_lines(_help(name))
    options = [p for p in command.params if p.param_type_name == "option" and p.name != "help"]
    assert options
    for option in options:
        line = lines[option.opts[0]]
        assert re.sub(r"\s+", " ", option.help) in line, line  # no word dropped as markup
        if option.is_flag and not option.secondary_opts:
            continue  # a bare flag (--json) is off unless given
        if option.required:
            assert "[required]" in line, line
            continue
        assert "[default: " in line, f"{name} {option.opts[0]}: no default shown: {line}"


def test_defaults_that_come_from_settings_name_their_value_and_variable():
    lines = _option_lines(_help("features"))
    assert "[default: (data/raw, or raw/ in $LEADSCORE_DATA_DIR)]" in lines["--data"]
    assert "[default: (90, or $LEADSCORE_HORIZON_DAYS)]" in lines["--horizon-days"]
    lines = _option_lines(_help("train"))
    assert "models/hand_set_rules.yaml, or $LEADSCORE_RULES_PATH" in lines["--rules"]
    assert "[default: (7, or $LEADSCORE_SEED)]" in lines["--seed"]
    assert "[default: (the champion gate decides)]" in lines["--promote"]


def test_models_and_rollback_name_what_they_default_to():
    assert "[default: (both)]" in _option_lines(_help("models"))["--transition"]
    lines = _option_lines(_help("rollback"))
    assert "[default: (the champion before the current one)]" in lines["--to"]
    assert "[default: (none)]" in lines["--reason"]
    assert "[default: 8000]" in lines["--port"]
    assert re.search(r"Usage: \S+ rollback \[OPTIONS\] \{?TRANSITION\}?", _help("rollback"))
