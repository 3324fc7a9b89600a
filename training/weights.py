"""Learned vs hand-set points: which of a team's hand-set rules its own history supports.

The comparison keeps every rule exactly as the team wrote it (what counts, window, decay, cap)
and learns only its points, so the answer reads rule by rule and the learned points drop into
the same rules file. Steps, all on one transition's decision points (default ``mql_to_sql``,
where the hand-set threshold is the hand-over to sales):

1. Signal: each rule's points divided by its hand-set points (scored with every rule at one
   point, its cap divided by its points), i.e. how strongly the rule fires: 0/1 for attribute
   and behaviour rules, the decayed, capped number of matching touches for touch rules.
2. Split by decision time (``training.split.time_split``): the scorecard is fitted on the older
   85 % (train + validation), the model on train (early stopping on validation); the newest
   15 % (test) judges all three scores.
3. Scorecard: logistic regression of the outcome on the signals with a weak L2 penalty
   (``L2_PENALTY``: about a N(0, 1) prior on the log-odds per unit of signal, which only matters
   for rules that rarely fire), fitted by Newton's method.
4. Scale: points = ``scale`` x log-odds. ``scale`` is chosen so that, on the fit rows, the
   learned scorecard passes exactly as many leads at the hand-set threshold as the hand-set
   points do: the threshold keeps its meaning (the same hand-over volume) and 1 learned point
   is 1/scale log-odds. If the hand-set threshold passes no lead (or is <= 0), the scale matches
   the spread (standard deviation) of the hand-set totals instead.
5. Uncertainty: ``bootstrap`` resamples of the fit rows (seeded), each refitting the scorecard
   and its scale; the 2.5 and 97.5 percentiles bound the learned points.
6. The model's view: LightGBM SHAP values (log-odds) summed over the features a rule is built
   from (``related_features``), averaged over leads where the rule fires minus leads where it
   does not, per unit of signal, times ``scale``: the points the model implicitly gives the
   rule. Features no rule relates to (and, for attribute columns, the values no rule picks)
   with a large mean |SHAP| are reported as signals no hand-set rule covers.
7. Capacity: sales can take ``capacity_per_month`` leads (default: as many as the hand-set
   threshold passed per month on the fit rows). Thresholds for the learned points (fit rows)
   and the model (validation rows: the model's own training rows would flatter it) are set for
   that volume on older data and applied to the test period; the fair comparison is the number
   of conversions among the top ``capacity`` leads per month of each score on the test period.

``compare_weights`` is pure (no files, no MLflow); ``training.weights_report`` renders and logs.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.build import TrainingSet, build_training_set
from features.decision_points import data_end_of
from features.history import LeadHistory
from leadscore.errors import InputError
from leadscore.jsonable import json_ready
from training.evaluate import cumulative_gain
from training.model import LeadConversionModel
from training.rules import (
    HandSetRules,
    dump_rules,
    score_leads,
)
from training.split import time_split
from training.weights_model_view import (
    UncoveredSignal,
    model_view,
    uncovered_signals,
)

TRANSITIONS = ("mql_to_sql", "sql_to_won")
L2_PENALTY = 1.0
MAX_BOOTSTRAP = 2_000
MIN_FIRES = 30  # a rule firing on fewer fit rows is not judged; its points stay as they are
POINTS_DECIMALS = 1
DAYS_PER_MONTH = 30.4375
CURVE_POINTS = 120


def _expit(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow


@dataclass(frozen=True)
class RuleWeight:
    """One hand-set rule next to what the data supports.

    Attributes:
        fires_share, fires_rows: share and number of fit rows where the rule fires.
        conversion_when_fires / _when_not: observed conversion rate of those rows / the rest.
        mean_signal_when_fires: average signal of a firing lead (touches counted, decayed, capped).
        hand_set_points, learned_points: points per unit of signal; learned ones are rounded to
            ``POINTS_DECIMALS`` and are what the exported rules file holds.
        learned_lower, learned_upper: 95 % bootstrap interval of the learned points, rounded
            like them (NaN without resamples).
        log_odds_per_signal: the scorecard's coefficient (learned_points = scale x this).
        model_shap_when_fires / _when_not: mean SHAP (log-odds) of the related features.
        model_points: the model's view on the points scale (see the module docstring).
        related_features: model features the rule is built from.
        verdict: supported | uncertain | too strong | too weak (|points| too large / too small)
            | no effect found | wrong sign | data suggests points | not in use |
            too rare to judge; flagged: the data contradicts the rule's sign or size.
        explanation: one sentence for a marketer.
    """

    name: str
    kind: str
    description: str
    fires_share: float
    fires_rows: int
    conversion_when_fires: float
    conversion_when_not: float
    mean_signal_when_fires: float
    hand_set_points: float
    learned_points: float
    learned_lower: float
    learned_upper: float
    log_odds_per_signal: float
    model_shap_when_fires: float
    model_shap_when_not: float
    model_points: float
    related_features: tuple[str, ...]
    verdict: str
    flagged: bool
    explanation: str


@dataclass(frozen=True)
class CapacityRow:
    """One score on the test period, with a threshold set on older data and at equal volume.

    Attributes:
        threshold, threshold_unit: the cut ("points" or "probability").
        passed, passed_per_month: test leads at or above the threshold.
        conversions, conversion_rate, recall: converted leads among those passed.
        roc_auc: ranking quality of the score on all test leads.
        conversions_at_capacity: expected conversions among the top ``capacity`` test leads
            (ties shared evenly); extra_conversions: that minus the hand-set points' number.
    """

    method: str
    threshold: float
    threshold_unit: str
    passed: int
    passed_per_month: float
    conversions: int
    conversion_rate: float
    recall: float
    roc_auc: float
    conversions_at_capacity: float
    extra_conversions: float


@dataclass(frozen=True)
class WeightsComparison:
    """Everything the report, the API and the rules export show.

    Attributes:
        transition: the funnel step compared.
        threshold: the hand-set threshold; learned_threshold: the learned file's threshold.
        scale, scale_method: learned points per unit of log-odds and how it was chosen.
        capacity_per_month, capacity_is_default: leads sales takes a month.
        periods: fit and test dates, rows, conversions and months.
        rules, uncovered, capacity: the three tables.
        curves: per score, conversions caught on the test period vs leads passed per month.
        learned_rules: the hand-set file with learned points (scaled caps); ``to_dict`` carries
            it as ``learned_rules_yaml``, the text ``dump_rules`` writes (JSON has no .inf).
        settings: seed, bootstrap resamples, penalty, where the model came from.
    """

    transition: str
    threshold: float
    learned_threshold: float
    scale: float
    scale_method: str
    capacity_per_month: float
    capacity_is_default: bool
    periods: dict[str, Any]
    rules: tuple[RuleWeight, ...]
    uncovered: tuple[UncoveredSignal, ...]
    capacity: tuple[CapacityRow, ...]
    curves: dict[str, dict[str, list[float]]]
    learned_rules: HandSetRules
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes None, tuples lists, the learned rules a plain mapping."""
        out = {
            key: getattr(self, key)
            for key in (
                "transition",
                "threshold",
                "learned_threshold",
                "scale",
                "scale_method",
                "capacity_per_month",
                "capacity_is_default",
                "periods",
                "curves",
                "settings",
            )
        }
        out["rules"] = [asdict(rule) for rule in self.rules]
        out["uncovered"] = [asdict(signal) for signal in self.uncovered]
        out["capacity"] = [asdict(row) for row in self.capacity]
        out["learned_rules_yaml"] = rules_yaml(self.learned_rules)
        return json_ready(out)


def rules_yaml(rules: HandSetRules) -> str:
    """The rules file text exactly as ``dump_rules`` writes it (it writes only to paths)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.yaml"
        dump_rules(rules, path)
        return path.read_text(encoding="utf-8")


# --- rule signals and related features ---------------------------------------------------------
def unit_rules(rules: HandSetRules) -> HandSetRules:
    """The same rules at one point each, caps divided by the points: scores are the signals.

    Exact for touch rules too: clip(p x decayed count, -cap, cap) = p x clip(decayed count,
    -cap/|p|, cap/|p|). A rule with 0 hand-set points keeps its cap as a cap on the count.
    """
    unit = []
    for rule in rules.rules:
        update: dict[str, Any] = {"points": 1.0}
        cap = getattr(rule, "cap", None)
        if cap is not None and rule.points != 0:
            update["cap"] = cap / abs(rule.points)
        unit.append(rule.model_copy(update=update))
    return rules.model_copy(update={"rules": unit})


# --- the scorecard ---------------------------------------------------------------------------
def fit_logistic(
    X: np.ndarray,
    y: np.ndarray,
    *,
    l2: float = L2_PENALTY,
    weights: np.ndarray | None = None,
    start: np.ndarray | None = None,
    max_iter: int = 100,
) -> np.ndarray:
    """L2-penalised logistic regression by damped Newton steps; returns [coefficients...,
    intercept]. The intercept is not penalised. Minimises
    sum_i w_i * logloss_i + l2/2 * |coef|^2 (scikit-learn's objective with C = 1/l2)."""
    n, d = X.shape
    design = np.column_stack([X, np.ones(n)])
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    penalty = np.full(d + 1, float(l2))
    penalty[-1] = 0.0
    beta = np.zeros(d + 1) if start is None else np.array(start, dtype=float)

    def objective(b: np.ndarray) -> float:
        z = design @ b
        return float(np.sum(w * (np.logaddexp(0.0, z) - y * z)) + 0.5 * np.sum(penalty * b * b))

    value = objective(beta)
    for _ in range(max_iter):
        p = _expit(design @ beta)
        gradient = design.T @ (w * (p - y)) + penalty * beta
        hessian = (design * (w * p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-10)
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while True:
            candidate = beta - size * step
            new_value = objective(candidate)
            if new_value <= value or size < 1e-6:
                break
            size /= 2
        done = value - new_value <= 1e-10 * (1.0 + abs(value))
        beta, value = candidate, min(value, new_value)
        if done:
            break
    return beta


def _kth_largest(values: np.ndarray, k: int, weights: np.ndarray | None = None) -> float:
    """The value at which, counting weights, ``k`` rows lie at or above it."""
    order = np.argsort(-values, kind="stable")
    counts = np.ones(values.size) if weights is None else weights[order]
    position = int(np.searchsorted(np.cumsum(counts), k - 1e-9))
    return float(values[order][min(position, values.size - 1)])


def points_scale(
    z: np.ndarray,
    passes: np.ndarray,
    totals: np.ndarray,
    threshold: float,
    weights: np.ndarray | None = None,
) -> tuple[float, str]:
    """Learned points per unit of log-odds, and how it was chosen.

    ``z``: each row's learned log-odds without the intercept; ``passes``: the hand-set points
    pass the threshold. The scale makes ``scale * z >= threshold`` pass as many rows (weighted)
    as the hand-set points do; when that is impossible (threshold <= 0, no row or every row
    passing, or the cut at z <= 0), it matches the standard deviation of the hand-set totals.
    """
    w = np.ones(z.size) if weights is None else weights
    k = float(np.sum(w * passes))
    if threshold > 0 and 0 < k < w.sum():
        cut = _kth_largest(z, round(k), weights)
        if cut > 0:
            return threshold / cut, "same number of leads passing the hand-set threshold"
    spread_z = math.sqrt(np.cov(z, aweights=w)) if z.size > 1 else 0.0
    spread_points = math.sqrt(np.cov(totals, aweights=w)) if totals.size > 1 else 0.0
    scale = spread_points / spread_z if spread_z > 0 and spread_points > 0 else 1.0
    return scale, "same spread as the hand-set totals"


# --- verdicts ----------------------------------------------------------------------------------
def size_tolerance(hand_set_points: float) -> float:
    """Differences smaller than this are not worth changing a rule for (in points)."""
    return max(2.0, 0.25 * abs(hand_set_points))


def verdict(
    hand_set: float, learned: float, lower: float, upper: float, fires_rows: int
) -> tuple[str, bool]:
    """(verdict, flagged): flagged when the data contradicts the rule's sign or size."""
    if fires_rows < MIN_FIRES:
        return "too rare to judge", False
    if not (math.isfinite(lower) and math.isfinite(upper)):  # no bootstrap: judge the size only
        lower = upper = learned
    contains_zero = lower <= 0 <= upper
    if hand_set == 0:
        return ("not in use", False) if contains_zero else ("data suggests points", True)
    if (hand_set > 0 and upper < 0) or (hand_set < 0 and lower > 0):
        return "wrong sign", True
    if lower <= hand_set <= upper or abs(learned - hand_set) < size_tolerance(hand_set):
        return ("uncertain", False) if contains_zero else ("supported", False)
    if contains_zero:
        return "no effect found", True
    return ("too strong", True) if abs(hand_set) > abs(learned) else ("too weak", True)


def _explanation(rule: dict[str, Any]) -> str:
    h, lp = f"{rule['hand_set_points']:g}", f"{rule['learned_points']:+.1f}"
    lower, upper = rule["learned_lower"], rule["learned_upper"]
    band = (
        f"{lower:+.1f} to {upper:+.1f}"
        if math.isfinite(lower) and math.isfinite(upper)
        else "no interval: no bootstrap"
    )
    return {
        "too rare to judge": f"Fires on only {rule['fires_rows']} leads: too few to judge; "
        f"the hand-set {h} points are kept.",
        "not in use": f"Scores 0 points today and the data finds no clear effect ({band}).",
        "data suggests points": f"Scores 0 points today, but the data supports {lp} ({band}).",
        "wrong sign": f"Set to {h} by hand, but with the other rules counted the data supports "
        f"{lp} ({band}).",
        "no effect found": f"With the other rules counted it adds nothing clear: {lp} "
        f"({band}) instead of {h}.",
        "too strong": f"Worth about {lp} points ({band}): weaker than the {h} set by hand.",
        "too weak": f"Worth about {lp} points ({band}): stronger than the {h} set by hand.",
        "uncertain": f"The data cannot tell: {band} holds both 0 and the hand-set {h}.",
        "supported": f"The data agrees: {lp} points ({band}) against {h} set by hand.",
    }[rule["verdict"]]


# --- the comparison ----------------------------------------------------------------------------
def _months(start: pd.Timestamp, end: pd.Timestamp) -> float:
    return max((end - start) / pd.Timedelta(days=1), 1.0) / DAYS_PER_MONTH


def _rate(hits: np.ndarray) -> float:
    return float(hits.mean()) if hits.size else math.nan


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if 0 < y.sum() < y.size else math.nan


def _check_arguments(
    rules: HandSetRules, transition: str, capacity_per_month: float | None, bootstrap: int
) -> None:
    if transition not in TRANSITIONS:
        raise InputError(f"transition {transition!r}: use one of {', '.join(TRANSITIONS)}")
    if capacity_per_month is not None and not (
        math.isfinite(capacity_per_month) and capacity_per_month > 0
    ):
        raise InputError(f"capacity_per_month must be a positive number, got {capacity_per_month}")
    if not 0 <= bootstrap <= MAX_BOOTSTRAP:
        raise InputError(f"bootstrap must lie between 0 and {MAX_BOOTSTRAP}, got {bootstrap}")
    if not isinstance(rules, HandSetRules):
        raise InputError("rules must be a HandSetRules (see training.rules.load_rules)")


@dataclass(frozen=True)
class Scorecard:
    """Logistic regression on the rule signals, on the points scale.

    Attributes:
        coef, intercept: log-odds per unit of signal, and the intercept.
        scale, scale_method: points per log-odds unit (``points_scale``).
        points: scale x coef, unrounded; lower, upper: 95 % bootstrap percentiles (NaN
            without resamples).
    """

    coef: np.ndarray
    intercept: float
    scale: float
    scale_method: str
    points: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def fit_scorecard(
    signal: np.ndarray,
    y: np.ndarray,
    passes: np.ndarray,
    totals: np.ndarray,
    threshold: float,
    *,
    bootstrap: int,
    seed: int,
) -> Scorecard:
    """Fit, scale, and refit on ``bootstrap`` seeded resamples of the rows (each resample
    refits the scale too, so the interval holds both uncertainties)."""
    beta = fit_logistic(signal, y)
    scale, method = points_scale(signal @ beta[:-1], passes, totals, threshold)
    rng = np.random.default_rng(seed)
    n = signal.shape[0]
    draws = np.empty((bootstrap, signal.shape[1]))
    for b in range(bootstrap):
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        beta_b = fit_logistic(signal, y, weights=w, start=beta)
        scale_b, _ = points_scale(signal @ beta_b[:-1], passes, totals, threshold, w)
        draws[b] = scale_b * beta_b[:-1]
    nan = np.full(signal.shape[1], np.nan)
    lower, upper = np.percentile(draws, [2.5, 97.5], axis=0) if bootstrap else (nan, nan)
    return Scorecard(beta[:-1], float(beta[-1]), scale, method, scale * beta[:-1], lower, upper)


@dataclass(frozen=True)
class _Rows:
    """One transition's decision points with their signals, split by time (positions)."""

    frame: pd.DataFrame
    y: np.ndarray
    signal: np.ndarray
    hand_total: np.ndarray
    passes: np.ndarray
    fit: np.ndarray
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    months: dict[str, float]


def _rows(training_set: TrainingSet, history: LeadHistory, rules: HandSetRules) -> _Rows:
    frame = training_set.frame.reset_index(drop=True)
    split = time_split(frame)
    y = frame["label"].to_numpy(dtype=float)
    fit = np.sort(np.r_[split.train.index, split.validation.index])
    if not 0 < y[fit].sum() < fit.size:
        raise InputError("the older rows need both converted and non-converted leads")
    points = pd.DataFrame({"lead_id": frame["lead_id"], "as_of": frame["decision_time"]})
    hand = score_leads(rules, points, history)
    t = pd.to_datetime(frame["decision_time"])
    validation_from, test_from = split.boundaries
    return _Rows(
        frame=frame,
        y=y,
        signal=score_leads(unit_rules(rules), points, history).points.to_numpy(),
        hand_total=hand.total.to_numpy(),
        passes=hand.passes_threshold.to_numpy(),
        fit=fit,
        train=np.sort(split.train.index.to_numpy()),
        validation=np.sort(split.validation.index.to_numpy()),
        test=np.sort(split.test.index.to_numpy()),
        months={
            "fit": _months(t.min(), test_from),
            "validation": _months(validation_from, test_from),
            "test": _months(test_from, t.max()),
        },
    )


def compare_weights(
    history: LeadHistory,
    rules: HandSetRules,
    *,
    transition: str = "mql_to_sql",
    capacity_per_month: float | None = None,
    seed: int = 7,
    bootstrap: int = 200,
    model: LeadConversionModel | None = None,
    horizon_days: int = 90,
    training_set: TrainingSet | None = None,
    model_params: dict[str, Any] | None = None,
) -> WeightsComparison:
    """Hand-set vs learned points, the model's view and the capacity trade-off (pure).

    ``training_set`` (the transition's, from ``features.build``) saves rebuilding it. Without
    ``model`` a ``LeadConversionModel`` (``model_params``) is fitted on the older rows; a given
    model should have been trained on rows older than the test period, or its numbers flatter.
    """
    _check_arguments(rules, transition, capacity_per_month, bootstrap)
    if training_set is None:
        training_set = build_training_set(
            history, transition, horizon_days=horizon_days, data_end=data_end_of(history)
        )
    elif training_set.manifest.get("transition", transition) != transition:
        raise InputError(
            f"training_set is for {training_set.manifest['transition']}, not {transition}"
        )
    rows = _rows(training_set, history, rules)
    frame, fit = rows.frame, rows.fit
    threshold = float(rules.threshold)
    hand_points = np.array([rule.points for rule in rules.rules])
    card = fit_scorecard(
        rows.signal[fit],
        rows.y[fit],
        rows.passes[fit],
        rows.hand_total[fit],
        threshold,
        bootstrap=bootstrap,
        seed=seed,
    )
    fires_rows = (rows.signal[fit] != 0).sum(axis=0)
    learned = np.where(fires_rows < MIN_FIRES, hand_points, np.round(card.points, POINTS_DECIMALS))

    model_source = "given"
    features = [c for c in frame.columns if c not in ("lead_id", "decision_time", "label")]
    if model is None:
        train, validation = frame.iloc[rows.train], frame.iloc[rows.validation]
        model = LeadConversionModel(random_state=seed, **(model_params or {}))
        model.fit(
            train[features], train["label"], eval_set=(validation[features], validation["label"])
        )
        model_source = "fitted on the training rows, early-stopped on the validation rows"
    model_features = list(model.feature_names_in_)
    missing = [f for f in model_features if f not in frame.columns]
    if missing:
        raise InputError(f"the model needs features the training set lacks: {missing[:5]}")
    probability = model.predict_proba(frame[model_features])[:, 1]

    capacity_is_default = capacity_per_month is None
    capacity = (
        float(rows.passes[fit].sum()) / rows.months["fit"]
        if capacity_per_month is None
        else float(capacity_per_month)
    )
    learned_total = rows.signal @ learned
    learned_threshold = threshold
    if not capacity_is_default:
        cut = _kth_largest(learned_total[fit], max(1, round(capacity * rows.months["fit"])))
        learned_threshold = math.floor(cut * 10**POINTS_DECIMALS) / 10**POINTS_DECIMALS
    k_validation = max(1, round(capacity * rows.months["validation"]))
    scores = {
        "hand-set points": (rows.hand_total, threshold, "points"),
        "learned points": (learned_total, learned_threshold, "points"),
        "LightGBM model": (
            probability,
            _kth_largest(probability[rows.validation], min(k_validation, rows.validation.size)),
            "probability",
        ),
    }
    capacity_rows, curves = _capacity(rows, scores, capacity)
    view = model_view(frame, rows.signal, model, model_features, rules, seed)
    t = pd.to_datetime(frame["decision_time"])
    return WeightsComparison(
        transition=transition,
        threshold=threshold,
        learned_threshold=float(learned_threshold),
        scale=float(card.scale),
        scale_method=card.scale_method,
        capacity_per_month=capacity,
        capacity_is_default=capacity_is_default,
        periods={
            "fit_from": str(t.iloc[fit].min()),
            "test_from": str(t.iloc[rows.test].min()),
            "test_to": str(t.iloc[rows.test].max()),
            "fit_rows": int(fit.size),
            "test_rows": int(rows.test.size),
            "fit_conversion_rate": float(rows.y[fit].mean()),
            "test_conversions": int(rows.y[rows.test].sum()),
            "fit_months": rows.months["fit"],
            "test_months": rows.months["test"],
            "leads_at_capacity_in_test": min(round(capacity * rows.months["test"]), rows.test.size),
        },
        rules=tuple(_rule_rows(rows, rules, card, learned, view)),
        uncovered=tuple(uncovered_signals(view, frame, rules, card.scale)),
        capacity=tuple(capacity_rows),
        curves=curves,
        learned_rules=learned_rules_file(rules, learned, learned_threshold),
        settings={
            "seed": seed,
            "bootstrap": bootstrap,
            "l2_penalty": L2_PENALTY,
            "min_fires": MIN_FIRES,
            "shap_rows": int(view["rows"].size),
            "model": model_source,
            "horizon_days": training_set.manifest.get("horizon_days", horizon_days),
        },
    )


def _capacity(
    rows: _Rows, scores: dict[str, tuple[np.ndarray, float, str]], capacity: float
) -> tuple[list[CapacityRow], dict[str, dict[str, list[float]]]]:
    """Each score on the test rows: at its threshold, and among the top ``capacity`` a month."""
    y = rows.y[rows.test]
    months = rows.months["test"]
    k = min(round(capacity * months), y.size)
    table, curves = [], {}
    baseline = math.nan
    for method, (all_scores, cut, unit) in scores.items():
        score = all_scores[rows.test]
        passed = score >= cut - 1e-9  # sums of decimal points: allow rounding error
        contacted, captured = cumulative_gain(y, score)
        captured = np.nan_to_num(captured) * y.sum()
        at_capacity = float(captured[k])
        baseline = at_capacity if method == "hand-set points" else baseline
        table.append(
            CapacityRow(
                method=method,
                threshold=float(cut),
                threshold_unit=unit,
                passed=int(passed.sum()),
                passed_per_month=float(passed.sum() / months),
                conversions=int(y[passed].sum()),
                conversion_rate=_rate(y[passed]),
                recall=float(y[passed].sum() / y.sum()) if y.sum() else math.nan,
                roc_auc=_auc(y, score),
                conversions_at_capacity=at_capacity,
                extra_conversions=at_capacity - baseline,
            )
        )
        keep = np.unique(np.linspace(0, y.size, CURVE_POINTS).round().astype(int))
        curves[method] = {
            "leads_per_month": np.round(contacted[keep] * y.size / months, 2).tolist(),
            "conversions": np.round(captured[keep], 2).tolist(),
        }
    return table, curves


def _rule_rows(
    rows: _Rows,
    rules: HandSetRules,
    card: Scorecard,
    learned: np.ndarray,
    view: dict[str, Any],
) -> list[RuleWeight]:
    signal, y = rows.signal[rows.fit], rows.y[rows.fit]
    out = []
    for r, rule in enumerate(rules.rules):
        fires = signal[:, r] != 0
        shap_fires, shap_not, signal_fires = view["per_rule"][r]
        row = {
            "name": rule.name,
            "kind": rule.kind,
            "description": rule.description or "",
            "fires_share": float(fires.mean()),
            "fires_rows": int(fires.sum()),
            "conversion_when_fires": _rate(y[fires]),
            "conversion_when_not": _rate(y[~fires]),
            "mean_signal_when_fires": float(signal[fires, r].mean()) if fires.any() else math.nan,
            "hand_set_points": float(rule.points),
            "learned_points": float(learned[r]),
            # rounded as shown, so a verdict never contradicts the printed interval
            "learned_lower": round(float(card.lower[r]), POINTS_DECIMALS),
            "learned_upper": round(float(card.upper[r]), POINTS_DECIMALS),
            "log_odds_per_signal": float(card.coef[r]),
            "model_shap_when_fires": shap_fires,
            "model_shap_when_not": shap_not,
            "model_points": card.scale * (shap_fires - shap_not) / signal_fires
            if signal_fires
            else math.nan,
            "related_features": view["related"][r],
        }
        row["verdict"], row["flagged"] = verdict(
            row["hand_set_points"],
            float(card.points[r]),
            row["learned_lower"],
            row["learned_upper"],
            row["fires_rows"],
        )
        row["explanation"] = _explanation(row)
        out.append(RuleWeight(**row))
    return out


def learned_rules_file(
    rules: HandSetRules, learned_points: np.ndarray, threshold: float
) -> HandSetRules:
    """The team's rules with learned points; caps scale with the points so the same number of
    touches saturates. A rule learned at 0 points keeps its old cap, ready to be re-weighted."""
    updated = []
    for rule, new in zip(rules.rules, learned_points, strict=True):
        update: dict[str, Any] = {"points": float(new)}
        cap = getattr(rule, "cap", None)
        if cap is not None and rule.points != 0 and new != 0:
            scaled = cap / abs(rule.points) * abs(float(new))
            update["cap"] = max(round(scaled, POINTS_DECIMALS + 1), 10.0 ** -(POINTS_DECIMALS + 1))
        updated.append(rule.model_copy(update=update))
    learned = rules.model_copy(update={"rules": updated, "threshold": float(threshold)})
    return HandSetRules.model_validate(
        learned.model_dump(exclude_none=True)
    )  # as load_rules checks
