"""The registered versions of each transition as a team judges them, and moving ``champion``
back: what a team needs to roll back a model without the MLflow UI or Python.

"The champion before this one" comes from the registry alone: the gate and rollbacks tag each
new champion with the version it replaced (``aliases.move_champion``); a rollback also records
who made it, when, from which version and why on the version it points at. Functions take an
``MlflowClient`` so they read and write the store they are given, never a global one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from core.contract import TRANSITIONS
from core.errors import InputError
from training.tracking.aliases import (
    CHAMPION,
    PREVIOUS_CHAMPION,
    current_champion,
    move_champion,
    registered_name,
)

ROLLBACK_FROM, ROLLBACK_BY, ROLLBACK_AT, ROLLBACK_REASON = (
    "rollback.from_version",
    "rollback.by",
    "rollback.at",
    "rollback.reason",
)
TRAIN_FIRST = "train first (leadscore train)"
# what a training run's param ``model_choice`` says serves, in the words of the comparison table
SERVES = {
    "with_rules": "LightGBM on rules",
    "plain": "plain LightGBM",
    "rules_only": "calibrated rules only",
}


@dataclass(frozen=True)
class VersionRecord:
    """One registered version of a transition's model, as its run and the gate recorded it.

    Attributes:
        version: the registry's version number, as text (MLflow's own type for it).
        created_at: when it was registered (UTC).
        aliases: its aliases (``champion``, ``challenger``).
        roc_auc: its test ROC-AUC (metric ``model.roc_auc`` of its run); None when not logged.
        rules_auc: the hand-set rules' ROC-AUC on the same test rows (``baseline.roc_auc``).
        serves: what it scores with (param ``model_choice``: with_rules, plain, rules_only).
        serves_reason: why that was chosen (tag ``model_choice_reason``).
        promotion: the gate's decision (tag ``promotion``: champion or challenger).
        promotion_reason: the gate's reason (tag ``promotion_reason``).
        previous_champion: the version it replaced when it last became champion.
        rollback: the last rollback to it (from_version, by, at, reason); empty when none.
    """

    version: str
    created_at: datetime
    aliases: tuple[str, ...] = ()
    roc_auc: float | None = None
    rules_auc: float | None = None
    serves: str | None = None
    serves_reason: str | None = None
    promotion: str | None = None
    promotion_reason: str | None = None
    previous_champion: str | None = None
    rollback: dict[str, str] = field(default_factory=dict)

    @property
    def serves_text(self) -> str:
        return SERVES.get(self.serves or "", self.serves or "-")


@dataclass(frozen=True)
class RegisteredModel:
    """A transition's registered model. Attributes: transition; model_name; versions (newest
    first); rollback_to: the version ``leadscore rollback`` without ``--to`` goes back to."""

    transition: str
    model_name: str
    versions: list[VersionRecord]
    rollback_to: str | None

    @property
    def champion(self) -> str | None:
        return next((v.version for v in self.versions if CHAMPION in v.aliases), None)


@dataclass(frozen=True)
class Rollback:
    """What a rollback changed. Attributes: model_name; from_version (the champion it replaced,
    None when there was none); to_version (the champion now); by, at, reason as recorded."""

    model_name: str
    from_version: str | None
    to_version: str
    by: str
    at: datetime
    reason: str | None


def store_uri(tracking_uri: str) -> str:
    """The store the project uses: ``MLFLOW_TRACKING_URI`` when set, else ``tracking_uri``
    (as ``configure`` chooses)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or tracking_uri


def existing_store(tracking_uri: str) -> MlflowClient:
    """A client of the store at ``tracking_uri`` (``MLFLOW_TRACKING_URI`` wins), refusing a
    SQLite store whose file does not exist: reading it would create an empty one in the
    working directory and hide that the command ran in the wrong folder."""
    uri = store_uri(tracking_uri)
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.is_file():
            raise InputError(f"no MLflow store at {uri} ({path} not found); {TRAIN_FIRST}")
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def check_transition(transition: str) -> str:
    """``transition`` itself, or ``InputError`` naming the ones there are."""
    if transition not in TRANSITIONS:
        raise InputError(f"transition {transition!r}: use {' or '.join(TRANSITIONS)}")
    return transition


def model_versions(client: MlflowClient, transition: str) -> list[VersionRecord]:
    """Every registered version of ``transition``'s model, newest first; empty when nothing is
    registered. Each carries what its run logged (AUCs, what it serves) and what the gate and
    rollbacks recorded."""
    name = registered_name(check_transition(transition))
    try:
        found = client.search_model_versions(f"name='{name}'")
        # a search leaves each version's aliases empty: the registered model holds them
        by_alias = client.get_registered_model(name).aliases if found else {}
    except MlflowException:
        return []
    aliases: dict[str, list[str]] = {}
    for alias, version in sorted(by_alias.items()):
        aliases.setdefault(str(version), []).append(alias)
    return sorted(
        (_record(client, version, aliases.get(str(version.version), [])) for version in found),
        key=lambda record: int(record.version),
        reverse=True,
    )


def registered_models(client: MlflowClient, transitions: tuple[str, ...]) -> list[RegisteredModel]:
    """Each transition's registered model with its versions; ``InputError`` saying to train
    first when none of them has a version."""
    models = []
    for transition in transitions:
        versions = model_versions(client, transition)
        models.append(
            RegisteredModel(
                transition, registered_name(transition), versions, earlier_champion(versions)
            )
        )
    if not any(m.versions for m in models):
        names = " or ".join(m.model_name for m in models)
        raise InputError(f"no version of {names} registered in the store; {TRAIN_FIRST}")
    return models


def _record(client: MlflowClient, version: ModelVersion, aliases: list[str]) -> VersionRecord:
    metrics: dict[str, float] = {}
    params: dict[str, str] = {}
    tags: dict[str, str] = {}
    if version.run_id:
        try:
            run = client.get_run(version.run_id)
            metrics, params, tags = run.data.metrics, run.data.params, run.data.tags
        except MlflowException:  # the run was deleted: the version still serves
            pass
    own = dict(version.tags or {})
    return VersionRecord(
        version=str(version.version),
        created_at=datetime.fromtimestamp(version.creation_timestamp / 1000, tz=UTC),
        aliases=tuple(aliases),
        roc_auc=metrics.get("model.roc_auc", metrics.get("promotion.challenger_auc")),
        rules_auc=metrics.get("baseline.roc_auc", metrics.get("promotion.baseline_auc")),
        serves=params.get("model_choice"),
        serves_reason=tags.get("model_choice_reason") or tags.get("floor"),
        promotion=tags.get("promotion"),
        promotion_reason=tags.get("promotion_reason"),
        previous_champion=own.get(PREVIOUS_CHAMPION),
        rollback={
            key.removeprefix("rollback."): value
            for key, value in own.items()
            if key.startswith("rollback.")
        },
    )


def earlier_champion(versions: list[VersionRecord]) -> str | None:
    """The version that was champion before the current one: the current champion's
    ``previous_champion`` tag; for versions registered before that tag existed, the newest
    older version the gate made champion. None when there is no champion or none before it."""
    champion = next((v for v in versions if CHAMPION in v.aliases), None)
    if champion is None:
        return None
    if champion.previous_champion is not None:
        return champion.previous_champion
    older = (
        v for v in versions if int(v.version) < int(champion.version) and v.promotion == CHAMPION
    )
    return next((v.version for v in older), None)  # versions come newest first


def roll_back(
    client: MlflowClient,
    transition: str,
    *,
    to: str | None,
    by: str,
    at: datetime,
    reason: str | None = None,
) -> Rollback:
    """Point ``champion`` of ``transition``'s model at version ``to``, or without it at the
    champion before the current one (``earlier_champion``; a second rollback thus undoes the
    first), and record who, when, from which version and why on that version.

    ``InputError`` (one line naming the problem) for an unknown transition, nothing registered,
    a version that does not exist or is champion already, and no earlier champion to go back to.
    """
    name = registered_name(check_transition(transition))
    versions = model_versions(client, transition)
    if not versions:
        raise InputError(f"no registered model {name} in the store; {TRAIN_FIRST}")
    known = [v.version for v in versions]
    champion = current_champion(client, name)
    if to is None:
        to = earlier_champion(versions)
        if to is None:
            why = "no champion" if champion is None else f"version {champion} is the first champion"
            raise InputError(
                f"{name}: no earlier champion to go back to ({why}); name a version with --to "
                f"(versions: {', '.join(reversed(known))})"
            )
        if to not in known:
            raise InputError(
                f"{name}: version {to}, the champion before version {champion}, no longer "
                f"exists; name a version with --to (versions: {', '.join(reversed(known))})"
            )
    elif to not in known:
        raise InputError(
            f"--to {to}: {name} has no version {to} (versions: {', '.join(reversed(known))})"
        )
    if to == champion:
        raise InputError(f"--to {to}: version {to} is already the champion of {name}")
    replaced = move_champion(client, name, to)
    record = {ROLLBACK_FROM: replaced or "none", ROLLBACK_BY: by, ROLLBACK_AT: at.isoformat()}
    record[ROLLBACK_REASON] = reason or ""
    for key, value in record.items():
        client.set_model_version_tag(name, to, key, value)
    return Rollback(name, replaced, to, by, at, reason)
