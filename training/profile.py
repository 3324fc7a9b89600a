"""What a model's data looked like, binned: the reference monitoring compares scored leads with.

Training computes it once (``reference_profile``) and logs it with the run; the monitor bins
the recorded values of scored leads with the same bins (``bin_counts``), so a week's
population can be set against the training data without the training data at hand.

- Features: the lead attributes among the model's inputs (where a changed form or a new
  channel mix shows) plus its strongest inputs by gain (what moves its score most):
  ``monitored_features``. Binned on every row of the training set.
- Scores: the calibrated probability and the hand-set points on the test rows only. On rows it
  was fitted on, the model is surer of itself than on any new lead, so training rows would
  make every week of production look shifted.
- Numbers get up to ten bins at the reference's deciles (fewer when values repeat, as counts
  of zero do), categories one bin per level holding at least 0.5 % of the rows plus one for
  any other value; both get one more for missing values, which is how a dropped field shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from features.definitions import FEATURES, FEATURES_BY_NAME
from training.model import LeadConversionModel

PROFILE_VERSION = 1
TOP_BY_GAIN = 10
MAX_BINS = 10
MIN_LEVEL_SHARE = 0.005
ATTRIBUTES = tuple(f.name for f in FEATURES if f.group == "attributes")
SCORES = ("probability", "hand_set_points")
HOT_LIFT = 2.0  # the API's "hot" tier: at least twice the base rate (serving.scoring.scorer)


def monitored_features(model: LeadConversionModel, top: int = TOP_BY_GAIN) -> list[str]:
    """The inputs whose values are recorded and watched: the lead attributes the model reads,
    then its ``top`` inputs by gain. Training and serving both call this on the same model, so
    what is recorded is what the reference holds."""
    inputs = [str(name) for name in model.feature_names_in_]
    chosen = [name for name in ATTRIBUTES if name in inputs]
    strongest = [str(name) for name in model.gain_importance().index if str(name) not in chosen]
    return chosen + strongest[:top]


def kind_of(name: str) -> str:
    """A feature's kind in the registry, "categorical" or "numeric"; scores are numeric."""
    feature = FEATURES_BY_NAME.get(name)
    return feature.kind if feature is not None else "numeric"


def _is_missing(values: np.ndarray) -> np.ndarray:
    return pd.isna(values)


def _as_text(values: Any) -> np.ndarray:
    """Category values as text (missing as None), from a Categorical, a Series or a list."""
    array = np.asarray(pd.Series(values, dtype=object), dtype=object)
    missing = _is_missing(array)
    out = np.empty(array.size, dtype=object)
    out[~missing] = [str(v) for v in array[~missing]]
    out[missing] = None
    return out


def _as_numbers(values: Any) -> np.ndarray:
    """Numbers as float64 with NaN for missing, from any array-like (booleans as 0/1)."""
    series = pd.Series(values, dtype=object)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def bins_of(values: Any, kind: str) -> dict[str, Any]:
    """The bins of one column of reference values (``edges`` of numbers or ``levels`` of
    categories); ``bin_counts`` counts any values into them."""
    if kind == "categorical":
        text = _as_text(values)
        present = pd.Series(text[~_is_missing(text)])
        shares = present.value_counts(normalize=True, sort=True)
        levels = [str(v) for v, share in shares.items() if share >= MIN_LEVEL_SHARE]
        return {"kind": "categorical", "levels": levels}
    numbers = _as_numbers(values)
    present = numbers[~np.isnan(numbers)]
    quantiles = np.linspace(0, 1, MAX_BINS + 1)[1:-1]
    # observed values as edges (a count of 0 is its own bin, never split at 0.3)
    edges = (
        np.unique(np.quantile(present, quantiles, method="inverted_cdf"))
        if present.size
        else np.array([])
    )
    return {"kind": "numeric", "edges": [float(e) for e in edges]}


def bin_labels(spec: Mapping[str, Any]) -> list[str]:
    """A name per bin of ``spec``, in ``bin_counts`` order (for reports)."""
    if spec["kind"] == "categorical":
        return [*spec["levels"], "(other)", "(missing)"]
    edges = spec["edges"]
    if not edges:
        return ["(any)", "(missing)"]
    labels = [f"<= {edges[0]:g}"]
    labels += [f"({low:g}, {high:g}]" for low, high in pairwise(edges)]
    return [*labels, f"> {edges[-1]:g}", "(missing)"]


def bin_counts(spec: Mapping[str, Any], values: Any) -> np.ndarray:
    """How many ``values`` fall in each bin of ``spec``; the last bin counts missing values
    (for categories the one before it counts levels the reference did not have)."""
    if spec["kind"] == "categorical":
        text = _as_text(values)
        missing = _is_missing(text)
        position = {level: i for i, level in enumerate(spec["levels"])}
        other = len(position)
        at = np.array([position.get(v, other) for v in text[~missing]], dtype=np.int64)
        counts = np.bincount(at, minlength=other + 1)
        return np.append(counts, int(missing.sum()))
    numbers = _as_numbers(values)
    missing = np.isnan(numbers)
    edges = np.asarray(spec["edges"], dtype=np.float64)
    at = np.searchsorted(edges, numbers[~missing], side="left")
    counts = np.bincount(at, minlength=edges.size + 1)
    return np.append(counts, int(missing.sum()))


def column_profile(values: Any, kind: str) -> dict[str, Any]:
    """Bins of ``values`` and how many of them fall in each."""
    spec = bins_of(values, kind)
    return {**spec, "counts": bin_counts(spec, values).tolist()}


def threshold_share(scores: np.ndarray, threshold: float) -> dict[str, float]:
    """The share of ``scores`` at or above ``threshold`` (the leads it passes) and the rows."""
    scores = np.asarray(scores, dtype=np.float64)
    return {
        "value": float(threshold),
        "share": float(np.mean(scores >= threshold)) if scores.size else float("nan"),
        "rows": int(scores.size),
    }


def reference_profile(
    *,
    transition: str,
    features: pd.DataFrame,
    probability: Sequence[float],
    hand_set_points: Sequence[float],
    rules_threshold: float,
    base_rate: float,
    roc_auc: float,
    period: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON-ready reference of one trained transition.

    ``features``: the monitored features of every training row; ``probability`` and
    ``hand_set_points``: the test rows' scores; ``base_rate`` and ``roc_auc``: the test rows'
    conversion rate and the model's ROC-AUC there. The thresholds whose passing share the
    monitor watches are the hand-set one (the hand-over to sales) and the API's "hot" tier.
    """
    probability = np.asarray(probability, dtype=np.float64)
    points = np.asarray(hand_set_points, dtype=np.float64)
    return {
        "version": PROFILE_VERSION,
        "transition": transition,
        "rows": {"features": len(features), "scores": int(probability.size)},
        "features": {
            str(name): column_profile(features[name], kind_of(str(name)))
            for name in features.columns
        },
        "scores": {
            "probability": column_profile(probability, "numeric"),
            "hand_set_points": column_profile(points, "numeric"),
        },
        "thresholds": {
            "hand_set": threshold_share(points, rules_threshold),
            "model_hot": threshold_share(probability, HOT_LIFT * base_rate),
        },
        "base_rate": float(base_rate),
        "roc_auc": float(roc_auc),
        "period": dict(period or {}),
    }
