"""Figures for people: percentiles of timings, and how a figure is written out.

`rag eval` and the benchmarks (bench/) both use these, so the same figure reads the same in both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile, interpolated linearly between the two nearest values; NaN for no values.

    [1, 2, 3, 4] at 50 -> 2.5; [5.0] at 95 -> 5.0
    """
    data = sorted(float(v) for v in values)
    if not data:
        return math.nan
    position = (len(data) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


def figure(value: object, decimals: int | None = None) -> str:
    """A figure as text: thousands grouped; a fraction to 3 decimals below 10 and 1 above, unless told.

    0.93141 -> "0.931"; 1234.56 -> "1,234.6"; 12000 -> "12,000"; (16.4, decimals=0) -> "16"; None -> "–"
    """
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, Real):
        return str(value)
    if isinstance(value, Integral) and decimals is None:
        return f"{int(value):,}"
    if decimals is None:
        decimals = 3 if abs(value) < 10 else 1
    return f"{float(value):,.{decimals}f}"
