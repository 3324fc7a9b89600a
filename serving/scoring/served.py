"""What a loaded champion is, as the scorer reads it: one ``ServedModel`` per transition,
gathered in an immutable ``Models``. ``loading`` builds them; ``scorer`` only reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from serving.scoring.compiled_trees import Predict
from serving.scoring.reasons import ReasonWriter
from serving.scoring.tree_shap import Contributions
from training.bundle import ScoringBundle
from training.model import LeadConversionModel
from training.rules import HandSetRules

NO_CHAMPION = "no champion registered: train first"


def inputs_key(model: LeadConversionModel) -> tuple:
    """What ``model.encode`` depends on: models with equal keys share one matrix per pass."""
    levels = model.categorical_levels_
    return (
        tuple(str(n) for n in model.feature_names_in_),
        tuple((n, tuple(levels[n])) for n in sorted(levels)),
    )


@dataclass(frozen=True)
class ServedModel:
    """One transition's bundle as served.

    Attributes:
        transition: "mql_to_sql" or "sql_to_won".
        bundle: the scoring bundle (model, rules, metrics) exactly as training saved it.
        name, version, alias: where it came from in the registry (version and alias are None
            when loaded from a folder); source: "registry" or that folder.
        loaded_at: when this process loaded it.
        inputs_key: what the model's input encoding depends on (equal keys share a matrix);
            reasons: the reason phrasing, prepared once.
        base_rate: the test rows' conversion rate at training (priority tiers compare with it).
        tree_prediction: the trees' probability of an encoded matrix (``raw_probability``),
            compiled or LightGBM's, as ``inference`` says (``serving.scoring.compiled_trees``).
        contributions: SHAP values of an encoded matrix (``contribution_matrix``), compiled
            or LightGBM's, as ``explanation`` says (``serving.scoring.tree_shap``).
        timing_prediction: the timing model's hazards of person-period rows, compiled or
            LightGBM's (``serving.scoring.compiled_trees.hazard_prediction``); None without one.
        own_rules: for a model that starts from the hand-set rules (``bundle.model.prior_``)
            trained with other rules than those served beside it, its own rules: its prior
            reads their points. None otherwise.
    """

    transition: str
    bundle: ScoringBundle
    name: str
    version: str | None
    alias: str | None
    source: str
    loaded_at: datetime
    inputs_key: tuple = field(repr=False)
    reasons: ReasonWriter = field(repr=False)
    base_rate: float | None
    tree_prediction: Predict = field(repr=False)
    inference: str
    contributions: Contributions = field(repr=False)
    explanation: str
    own_rules: HandSetRules | None = field(default=None, repr=False)
    timing_prediction: Predict | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Unserved:
    """A transition without a model to serve (no champion registered, e.g. a history with no
    won deals yet): the service serves the others and refuses the leads that need this one.

    Attributes:
        transition: which one; name: its registered model name.
        reason: why in a few words (``NO_CHAMPION``); detail: what loading said, with the fix.
    """

    transition: str
    name: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Models:
    """The transitions' models and the hand-set rules scored next to them.

    Attributes:
        by_transition: the served models, by transition (at least one).
        missing: the transitions without one (``Unserved``); empty when every one is served,
            so scoring checks it once per pass (``serving.scoring.scorer``).
    """

    by_transition: dict[str, ServedModel]
    rules: HandSetRules
    loaded_at: datetime
    missing: dict[str, Unserved] = field(default_factory=dict)
