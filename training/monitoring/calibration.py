"""Do the probabilities still match what happened? Judged on matured cohorts only.

For each weekly cohort whose outcome window has closed (``cohorts.with_outcomes``): how many
converted against how many the model expected, as a z-score (observed minus expected
conversions over the binomial spread the predictions imply), the ROC-AUC with its standard
error (Hanley and McNeil, 1982), reliability bins, and the same expected-against-observed test
per segment (each level of each recorded categorical feature), since a segment whose
conversion moves can hide in the total.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

MIN_OUTCOMES_FOR_AUC = 10  # of each class
MIN_SEGMENT_ROWS = 50
RELIABILITY_BINS = 5


def z_score(converted: np.ndarray, probability: np.ndarray) -> float:
    """(observed - expected conversions) / sqrt(sum p (1 - p)); 0 when nothing is uncertain."""
    spread = float(np.sum(probability * (1 - probability)))
    if spread <= 0:
        return 0.0
    return float((converted.sum() - probability.sum()) / np.sqrt(spread))


def auc_with_error(converted: np.ndarray, probability: np.ndarray) -> tuple[float, float]:
    """ROC-AUC and its Hanley-McNeil standard error; NaN for both with too few of a class."""
    positives = int(converted.sum())
    negatives = int(converted.size - positives)
    if min(positives, negatives) < MIN_OUTCOMES_FOR_AUC:
        return float("nan"), float("nan")
    auc = float(roc_auc_score(converted, probability))
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    ) / (positives * negatives)
    return auc, float(np.sqrt(max(variance, 0.0)))


def _judged(frame: pd.DataFrame) -> pd.DataFrame:
    """The leads with an outcome (matured cohorts, leads the outcome data knows)."""
    if "converted" not in frame.columns:
        return frame.iloc[:0]
    return frame[frame["converted"].notna()]


def cohort_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per matured cohort of ``frame`` (``with_outcomes``' frame): week, rows,
    conversions, predicted and observed rates, z, auc, auc_se."""
    rows = []
    for week, cohort in _judged(frame).groupby("week", sort=True):
        y = cohort["converted"].to_numpy(dtype=np.float64)
        p = cohort["probability"].to_numpy(dtype=np.float64)
        auc, se = auc_with_error(y, p)
        rows.append(
            {
                "week": week,
                "rows": len(cohort),
                "conversions": int(y.sum()),
                "predicted": float(p.mean()),
                "observed": float(y.mean()),
                "z": z_score(y, p),
                "auc": auc,
                "auc_se": se,
            }
        )
    columns = ["week", "rows", "conversions", "predicted", "observed", "z", "auc", "auc_se"]
    return pd.DataFrame(rows, columns=columns)


def reliability(frame: pd.DataFrame, bins: int = RELIABILITY_BINS) -> pd.DataFrame:
    """Per matured cohort, leads in ``bins`` groups of equal size by probability: week, bin,
    rows, predicted (mean probability) and observed (conversion rate)."""
    rows = []
    for week, cohort in _judged(frame).groupby("week", sort=True):
        order = np.argsort(cohort["probability"].to_numpy(), kind="stable")
        for k, part in enumerate(np.array_split(order, min(bins, len(order)))):
            chosen = cohort.iloc[part]
            rows.append(
                {
                    "week": week,
                    "bin": k,
                    "rows": len(chosen),
                    "predicted": float(chosen["probability"].mean()),
                    "observed": float(chosen["converted"].mean()),
                }
            )
    return pd.DataFrame(rows, columns=["week", "bin", "rows", "predicted", "observed"])


def segment_table(
    cohort: pd.DataFrame, columns: list[str], min_rows: int = MIN_SEGMENT_ROWS
) -> pd.DataFrame:
    """Expected against observed per segment of one matured cohort: column, level, rows,
    predicted, observed, z; segments under ``min_rows`` leads are left out (too few to say)."""
    judged = _judged(cohort)
    rows = []
    for column in columns:
        if column not in judged.columns:
            continue
        levels = judged[column].astype(object).where(judged[column].notna(), "(missing)")
        for level, segment in judged.groupby(levels.astype(str), sort=True):
            if len(segment) < min_rows:
                continue
            y = segment["converted"].to_numpy(dtype=np.float64)
            p = segment["probability"].to_numpy(dtype=np.float64)
            rows.append(
                {
                    "column": column,
                    "level": level,
                    "rows": len(segment),
                    "predicted": float(p.mean()),
                    "observed": float(y.mean()),
                    "z": z_score(y, p),
                }
            )
    return pd.DataFrame(rows, columns=["column", "level", "rows", "predicted", "observed", "z"])
