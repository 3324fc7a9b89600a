"""The champions, from the MLflow registry, a local folder or a reload generation, ready to
score.

``load_models`` and ``load_generation`` build a complete, immutable ``Models`` (every
transition that has a champion; those without one listed in ``Models.missing``) or raise
``ModelNotFoundError`` when none has one; they never half-replace anything.
``serving.scoring.slot`` keeps the current ``Models`` and swaps a new one in with one
assignment.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import joblib

from core.contract import TRANSITIONS
from core.errors import ModelNotFoundError
from core.settings import Settings, trees_cache_of
from serving.scoring.compiled_trees import hazard_prediction, tree_prediction
from serving.scoring.generation import Generation
from serving.scoring.reasons import ReasonWriter
from serving.scoring.served import (
    NO_CHAMPION,
    Models,
    ServedModel,
    Unserved,
    inputs_key,
)
from serving.scoring.tree_shap import tree_contributions
from training import tracking
from training.bundle import ScoringBundle

log = logging.getLogger(__name__)
TRAIN_FIRST = "train first: leadscore train (or leadscore demo)"


def _redacted(uri: str) -> str:
    """A store URI fit for a message: user and password (``//user:pass@host``) hidden."""
    return re.sub(r"//[^/@]*@", "//***@", uri)


def _served(
    bundle: ScoringBundle,
    *,
    version: str | None,
    alias: str | None,
    source: str,
    trees_cache: Path | None,
) -> ServedModel:
    base_rate = bundle.metrics.get("model", {}).get("base_rate")
    timing = getattr(bundle, "timing", None)  # bundles from before timing models have none
    timing_predict = None if timing is None else hazard_prediction(timing, trees_cache)[0]
    if bundle.model.booster_ is None:  # the calibrated rules alone: no trees to compile
        trees_cache = None
    predict, inference = tree_prediction(
        bundle.model, trees_cache, getattr(bundle, "compiled_trees", None)
    )
    contributions, explanation = tree_contributions(bundle.model, trees_cache)
    return ServedModel(
        transition=bundle.transition,
        bundle=bundle,
        name=tracking.registered_name(bundle.transition),
        version=version,
        alias=alias,
        source=source,
        loaded_at=datetime.now(UTC),
        inputs_key=inputs_key(bundle.model),
        reasons=ReasonWriter(
            [str(n) for n in bundle.model.feature_names_in_],
            rules_prior=bundle.model.prior_ is not None,
        ),
        base_rate=float(base_rate) if base_rate is not None else None,
        tree_prediction=predict,
        inference=inference,
        contributions=contributions,
        explanation=explanation,
        timing_prediction=timing_predict,
    )


def no_model_behind(transition: str, alias: str, uri: str) -> ModelNotFoundError:
    """Why ``models:/<name>@<alias>`` is missing and what fixes it: no version at all (train
    first), or versions of which none carries the alias, as when the gate kept a first version
    that did not beat the hand-set rules as challenger; then the best one and the gate's reason."""
    name = tracking.registered_name(transition)
    versions = tracking.registered_versions(name)
    if not versions:
        return ModelNotFoundError(
            f"no model {name}@{alias} in the registry at {uri}; {TRAIN_FIRST}"
        )
    best = versions[0]
    auc = "" if best["roc_auc"] is None else f", test ROC-AUC {best['roc_auc']:.3f}"
    reason = f": {best['reason']}" if best["reason"] else ""
    count = f"{len(versions)} version{'s' if len(versions) > 1 else ''}"
    how = (
        f"`leadscore rollback {transition} --to {best['version']}`"
        if alias == tracking.CHAMPION
        else f"MLflow UI: Models > {name}"
    )
    return ModelNotFoundError(
        f"no model {name}@{alias} in the registry at {uri}: {count}, none is {alias}; the best, "
        f"version {best['version']}{auc}, was not promoted{reason}. To serve it anyway, point "
        f"the alias {alias} at version {best['version']} ({how}) or train with "
        "`leadscore train --promote`"
    )


def _from_registry(transition: str, alias: str, uri: str, trees_cache: Path | None) -> ServedModel:
    found = tracking.load_bundle_version(transition, alias)
    if found is None:
        raise no_model_behind(transition, alias, uri)
    bundle, version = found
    return _served(bundle, version=version, alias=alias, source="registry", trees_cache=trees_cache)


def _from_folder(transition: str, folder: Path, trees_cache: Path | None) -> ServedModel:
    candidates = [folder / f"{transition}.joblib"]
    if (folder / transition).is_dir():
        candidates += sorted((folder / transition).rglob("bundle.joblib"))
    path = next((c for c in candidates if c.is_file()), None)
    if path is None:
        raise ModelNotFoundError(
            f"no {transition} model in {folder}: expected {transition}.joblib or an MLflow "
            f"model folder {transition}/ holding bundle.joblib; {TRAIN_FIRST}"
        )
    bundle = joblib.load(path)
    if not isinstance(bundle, ScoringBundle) or bundle.transition != transition:
        raise ModelNotFoundError(f"{path} is not a {transition} scoring bundle")
    return _served(
        bundle, version=None, alias=None, source=str(path.parent), trees_cache=trees_cache
    )


def load_for(settings: Settings) -> Models:
    """``load_models`` with what ``settings`` name: the models the service serves."""
    return load_models(
        tracking_uri=settings.mlflow_tracking_uri,
        artifacts_dir=settings.mlflow_artifacts_dir,
        experiment=settings.experiment,
        alias=settings.model_alias,
        model_dir=settings.model_dir,
        trees_cache=trees_cache_of(settings),
    )


def load_models(
    *,
    tracking_uri: str,
    artifacts_dir: Path,
    experiment: str,
    alias: str,
    model_dir: Path | None,
    trees_cache: Path | None = None,
) -> Models:
    """The transitions' models from ``model_dir`` if given, else ``models:/<name>@<alias>``.

    A transition without one (no champion registered yet: a history with no won deals trains
    only MQL -> SQL) is left out, logged and listed in ``Models.missing``; the service serves
    the others. Raises ``ModelNotFoundError`` (naming what is missing and where) when no
    transition has a model; a model that cannot be read, or anything else that goes wrong
    while loading, is reported the same way, so the caller keeps what it had. ``trees_cache``:
    where compiled trees are kept (None: LightGBM predicts).
    """
    try:
        if model_dir is not None:
            folder = Path(model_dir)
            served, missing = _each_transition(
                lambda t: _from_folder(t, folder, trees_cache), "no model in the model folder"
            )
        else:
            tracking.configure(tracking_uri, artifacts_dir, experiment)
            uri = _redacted(os.environ.get("MLFLOW_TRACKING_URI") or tracking_uri)  # as configure
            served, missing = _each_transition(
                lambda t: _from_registry(t, alias, uri, trees_cache), f"no {alias} registered"
            )
    except ModelNotFoundError:
        raise
    except Exception as error:  # a broken store or artifact: same outcome as a missing model
        log.exception("loading models failed")
        raise ModelNotFoundError(
            f"could not load the models ({type(error).__name__}: {error}); {TRAIN_FIRST}"
        ) from error
    return _gathered(served, missing)


def _each_transition(
    load: Callable[[str], ServedModel], absent: str
) -> tuple[dict[str, ServedModel], dict[str, Unserved]]:
    """Each transition's model by ``load``, and the transitions it found none for (``absent``:
    why, in a few words); raises the first transition's ``ModelNotFoundError`` when none has
    one, as a service with nothing to serve must not start."""
    served: dict[str, ServedModel] = {}
    missing: dict[str, Unserved] = {}
    first: ModelNotFoundError | None = None
    for transition in TRANSITIONS:
        try:
            served[transition] = load(transition)
        except ModelNotFoundError as error:
            first = first or error
            name = tracking.registered_name(transition)
            missing[transition] = Unserved(transition, name, f"{absent}: train first", str(error))
    if first is not None and not served:
        raise first
    for unserved in missing.values():
        log.warning(
            "not serving %s: %s; leads that need it get 503 (%s)",
            unserved.transition,
            unserved.reason,
            unserved.detail,
        )
    return served, missing


def load_generation(generation: Generation, trees_cache: Path | None = None) -> Models:
    """Exactly the bundles of a reload ``generation`` (``serving.scoring.generation``), as the
    worker that published it loaded them, and the transitions it has none for. Raises
    ``ModelNotFoundError`` naming the generation when a bundle is missing or unreadable."""
    try:
        if not generation.models or not set(generation.models) <= set(TRANSITIONS):
            raise ValueError(
                f"it holds {sorted(generation.models)}, not some of {list(TRANSITIONS)}"
            )
        served = {}
        for transition, published in generation.models.items():
            bundle = joblib.load(published.bundle)
            if not isinstance(bundle, ScoringBundle) or bundle.transition != transition:
                raise ValueError(f"{published.bundle} is not a {transition} scoring bundle")
            served[transition] = _served(
                bundle,
                version=published.version,
                alias=published.alias,
                source=published.source,
                trees_cache=trees_cache,
            )
        missing = {
            t: generation.missing.get(t) or Unserved(t, tracking.registered_name(t), NO_CHAMPION)
            for t in TRANSITIONS
            if t not in served
        }
    except Exception as error:
        log.exception("loading reload generation %d failed", generation.number)
        raise ModelNotFoundError(
            f"could not load the models of reload generation {generation.number} "
            f"({type(error).__name__}: {error})"
        ) from error
    return _gathered(served, missing)


def _gathered(served: dict[str, ServedModel], missing: dict[str, Unserved]) -> Models:
    """The served models with the hand-set rules the API scores next to them: the first served
    transition's (MQL -> SQL's when it is served)."""
    first = next(t for t in TRANSITIONS if t in served)
    rules = served[first].bundle.rules
    for transition, model in list(served.items()):
        if model.bundle.rules == rules:
            continue
        log.warning(
            "the models were trained with different hand-set rules; serving the %s model's rules",
            first,
        )
        if model.bundle.model.prior_ is not None:  # its prior reads its own
            served[transition] = replace(model, own_rules=model.bundle.rules)
    return Models(by_transition=served, rules=rules, loaded_at=datetime.now(UTC), missing=missing)
