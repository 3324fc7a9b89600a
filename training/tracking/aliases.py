"""The registry's names and aliases: each transition's registered model, and moving its
``champion`` so that the version it replaced stays knowable.

Whenever ``champion`` moves (the gate promotes, a rollback), the version that gets it is tagged
with the version it replaced (``previous_champion``): "the champion before this one" is then
in the registry itself, for ``leadscore rollback`` to go back to.
"""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

CHAMPION, CHALLENGER = "champion", "challenger"
PREVIOUS_CHAMPION = "previous_champion"


def registered_name(transition: str) -> str:
    """``mql_to_sql`` -> ``leadscore-mql-to-sql``."""
    return f"leadscore-{transition.replace('_', '-')}"


def current_champion(client: MlflowClient, model_name: str) -> str | None:
    """The version behind ``champion`` of ``model_name``, or None."""
    try:
        return str(client.get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException:
        return None


def move_champion(client: MlflowClient, model_name: str, version: str) -> str | None:
    """Point ``champion`` of ``model_name`` at ``version`` and tag that version with the one it
    replaced (``previous_champion``); returns the replaced version (None when there was no
    champion, or it was ``version`` already, and then no tag changes)."""
    replaced = current_champion(client, model_name)
    client.set_registered_model_alias(model_name, CHAMPION, version)
    if replaced is None or replaced == version:
        return None
    client.set_model_version_tag(model_name, version, PREVIOUS_CHAMPION, replaced)
    return replaced
