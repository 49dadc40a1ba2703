"""Medians, percentiles, slopes and ratios of measured values."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the ``pct`` percentile with linear interpolation between closest ranks (NumPy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    """Return the median, NaN for no values."""
    return percentile(values, 50)


def slope(values: Sequence[float]) -> float:
    """Least-squares slope of values taken at steps 0, 1, 2, ... (NaN for fewer than two)."""
    n = len(values)
    if n < 2:
        return math.nan
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    return num / sum((x - mean_x) ** 2 for x in range(n))


def ratio(a: float, b: float) -> float:
    """``a / b``, NaN when ``b`` is 0 (a run that got no answer in time reports 0)."""
    return a / b if b else math.nan
