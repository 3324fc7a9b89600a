"""The comparison's results: one row per rule, one per score at capacity, and the whole
``WeightsComparison`` with its JSON-ready ``to_dict`` (what the report, the API and the notebook
read). Plain frozen dataclasses, so ``training.weights.compare`` computes and everyone else only
reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from core.jsonable import json_ready
from training.rules import HandSetRules
from training.weights.export import rules_yaml
from training.weights.model_view import UncoveredSignal


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
        threshold: the hand-set threshold that decides this transition, from the rules file's
            ``threshold_key`` (``sql_to_won_threshold`` for sql_to_won when the file has one);
            learned_threshold: the learned file's value for that key.
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
    threshold_key: str
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
                "threshold_key",
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
