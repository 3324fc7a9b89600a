"""What a trained transition ships with, versioned together: the model (with its category
levels and calibrator), the hand-set rules it was compared against, the feature names and the
test metrics, and the hazard model that says when (``timing``). The MLflow model, the API and
the notebooks all score through ``score``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.progress import Progress, counted
from features.build import build_features
from features.history import LeadHistory
from training.model import LeadConversionModel
from training.model.prior import HAND_SET_POINTS
from training.rules import HandSetRules, score_leads
from training.timing.hazard import HazardModel


def within_column(days: int) -> str:
    """The output column of P(converting within ``days``): ``within_90d``."""
    return f"within_{days}d"


SCORE_CHUNK_ROWS = 50_000  # decision points scored at once in a batch (and between progress)


@dataclass
class ScoringBundle:
    """Attributes:
    transition: "mql_to_sql" or "sql_to_won".
    model: the fitted, calibrated estimator (it may start from the rules: ``model.prior_``).
    rules: the hand-set rules (baseline) scored next to the model.
    feature_names: model inputs in order (a subset of the feature registry).
    metrics: test metrics at training time (model and baseline).
    trained_at: ISO timestamp of training; data_fingerprint: hash of the training set.
    compiled_trees: the model's trees as a shared library (``training.compiled_trees``),
        built at training so the API only loads it; None: LightGBM predicts.
    timing: the hazard model giving P(converting within each horizon), or None (bundles
        trained before it existed).
    """

    transition: str
    model: LeadConversionModel
    rules: HandSetRules
    feature_names: list[str]
    metrics: dict = field(default_factory=dict)
    trained_at: str = ""
    data_fingerprint: str = ""
    compiled_trees: bytes | None = field(default=None, repr=False)
    timing: HazardModel | None = None

    def score_features(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities for rows of already built features (and their
        ``hand_set_points``, which a model starting from the rules reads)."""
        return self.model.predict_proba(features)[:, 1]  # the model reads its inputs by name

    def score(
        self,
        points: pd.DataFrame,
        history: LeadHistory,
        *,
        progress: Progress | None = None,
        chunk_rows: int = SCORE_CHUNK_ROWS,
    ) -> pd.DataFrame:
        """Probability and hand-set score of each decision point (``lead_id``, ``as_of``).

        A batch is scored ``chunk_rows`` points at a time (each point's row depends on its own
        lead only, so the rows are the same as scored at once), reported to ``progress`` as
        one counted step of leads."""
        if len(points) <= chunk_rows and progress is None:
            return self._score(points, history)
        parts = []
        total = len(points)
        with counted(
            progress, f"[{self.transition}] scoring {total:,} leads", total, "leads"
        ) as step:
            for start in range(0, total, chunk_rows):
                parts.append(self._score(points.iloc[start : start + chunk_rows], history))
                done = min(start + chunk_rows, total)
                step(done, f"{done:,} scored")
        return pd.concat(parts, ignore_index=True) if parts else self._score(points, history)

    def _score(self, points: pd.DataFrame, history: LeadHistory) -> pd.DataFrame:
        features = build_features(points, history)
        rule_scores = score_leads(self.rules, points, history)
        features[HAND_SET_POINTS] = rule_scores.total.to_numpy()
        scores = pd.DataFrame(
            {
                "lead_id": points["lead_id"].to_numpy(),
                "probability": self.score_features(features),
                "hand_set_points": rule_scores.total.to_numpy(),
                "passes_threshold": rule_scores.passes_threshold.to_numpy(),
            }
        )
        if self.timing is not None:  # P(within each horizon of as_of), as the API gives it
            within = self.timing.within(features)
            for j, days in enumerate(self.timing.horizons_days):
                scores[within_column(days)] = within[:, j]
        return scores
