"""One conversion of results to strict JSON, shared by the CLI's ``--json`` and the weights
comparison served by the API."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_ready(value: Any) -> Any:
    """``value`` with NaN and infinity as None (strict JSON parsers reject them), numpy
    scalars as Python numbers and mapping keys as text."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
