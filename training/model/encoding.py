"""How a feature frame (or the API's feature arrays) becomes the booster's float64 input matrix.

Kept apart from the estimator so ``training.model`` stays about the model; the estimator
builds one ``InputEncoding`` at fit (and again when unpickled) and every prediction goes
through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

_FEW_ROWS = 64  # below this a dict lookup per value is faster than pandas' get_indexer


@dataclass(frozen=True)
class InputEncoding:
    """How a feature frame becomes the booster's input matrix, without per-column pandas work.

    Numbers become float64 and a categorical its position among the training levels, with
    unseen or missing values as NaN: what ``LeadConversionModel._prepare`` plus LightGBM's own
    pandas conversion produce at fit time (a test pins the equality), at a fraction of the cost.

    Attributes:
        names: the model's inputs in order (``feature_names_in_``).
        numeric: numeric input names, and ``numeric_at`` their positions in ``names``.
        levels: per categorical input, its training levels as an index.
        level_at: per categorical input, its position in ``names``.
    """

    names: tuple[str, ...]
    numeric: tuple[str, ...]
    numeric_at: np.ndarray
    levels: dict[str, pd.Index]
    level_at: dict[str, int]
    position: dict[str, dict[str, int]]
    # per (input, categorical dtype): each category's level position; derived, filled on use
    _lookups: dict[tuple[str, pd.CategoricalDtype], np.ndarray] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def of(cls, names: Sequence[str], categorical_levels: dict[str, list[str]]) -> InputEncoding:
        names = tuple(str(n) for n in names)
        levels = {
            n: pd.Index(categorical_levels[n], dtype=object)
            for n in names
            if n in categorical_levels
        }
        numeric = tuple(n for n in names if n not in levels)
        return cls(
            names=names,
            numeric=numeric,
            numeric_at=np.array([names.index(n) for n in numeric], dtype=np.intp),
            levels=levels,
            level_at={n: names.index(n) for n in levels},
            position={n: {v: i for i, v in enumerate(lv)} for n, lv in levels.items()},
        )

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        """The float64 matrix of ``X``'s model inputs (other columns are ignored)."""
        at = X.columns.get_indexer(self.names)
        if (at < 0).any():
            missing = [n for n, i in zip(self.names, at, strict=True) if i < 0]
            raise ValueError(f"missing feature columns: {missing[:5]}")
        out = np.empty((len(X), len(self.names)), dtype=np.float64)
        # one take of all numeric columns (a block per dtype), not a Series per column
        numbers = X.iloc[:, at[self.numeric_at]]
        if all(pd.api.types.is_numeric_dtype(d) for d in set(numbers.dtypes)):
            out[:, self.numeric_at] = numbers.to_numpy(np.float64, na_value=np.nan)
        else:  # text among the numbers: whatever does not parse is missing
            for k, name in zip(self.numeric_at, self.numeric, strict=True):
                column = pd.to_numeric(X[name], errors="coerce")
                out[:, k] = column.astype("float64").to_numpy()
        for name in self.levels:
            column = X.iloc[:, at[self.level_at[name]]].array
            out[:, self.level_at[name]] = self._level_codes(name, column)
        return out

    def matrix_of_columns(self, columns: Mapping[str, Any], n: int) -> np.ndarray:
        """The same matrix from feature arrays by name (``features.build.feature_columns``), as
        the API scores: no frame to build and take apart again. Numbers must be numeric and
        categories pandas arrays, as the feature code makes them."""
        missing = [name for name in self.names if name not in columns]
        if missing:
            raise ValueError(f"missing feature columns: {missing[:5]}")
        # a row per input, filled with contiguous writes, then one transposing copy: writing
        # each column of the row-major matrix in place strided through memory, 3x slower
        by_input = np.empty((len(self.names), n), dtype=np.float64)
        for k, name in zip(self.numeric_at, self.numeric, strict=True):
            by_input[k] = columns[name]
        for name in self.levels:
            by_input[self.level_at[name]] = self._level_codes(name, columns[name])
        return np.ascontiguousarray(by_input.T)

    def _level_codes(self, name: str, values: pd.api.extensions.ExtensionArray) -> np.ndarray:
        """Each value's position among ``name``'s training levels as a float; unseen or missing
        -> NaN. For a few values a dict lookup beats pandas' per-call overhead; a categorical
        is looked up per category (once per dtype), not per row."""
        position = self.position[name]
        if isinstance(values, pd.Categorical):
            key = (name, values.dtype)
            if key not in self._lookups:  # code -1 (missing) picks the appended -1
                categories = values.categories
                self._lookups[key] = np.array([position.get(c, -1) for c in categories] + [-1])
            found = self._lookups[key][values.codes]
        elif len(values) <= _FEW_ROWS:
            found = np.array([position.get(v, -1) for v in values.to_numpy(object)], dtype=np.intp)
        else:
            found = self.levels[name].get_indexer(values.to_numpy(object))
        out = found.astype(np.float64)
        out[found < 0] = np.nan
        return out
