"""Percentiles and figures read the same in `rag eval` and the benchmarks."""

import math

import numpy as np
import pytest

from rag.figures import figure, percentile


def test_percentile_interpolates_between_the_nearest_values():
    assert percentile([4, 1, 3, 2], 50) == 2.5  # order does not matter
    assert percentile([5.0], 95) == 5.0
    assert percentile(range(1, 101), 95) == pytest.approx(95.05)
    assert math.isnan(percentile([], 50))
    values = np.random.default_rng(0).uniform(1, 900, 226)
    assert percentile(values, 95) == pytest.approx(float(np.percentile(values, 95)))


@pytest.mark.parametrize("value,decimals,text", [
    (0.93141, None, "0.931"), (1234.56, None, "1,234.6"), (12000, None, "12,000"), (np.int64(12345), None, "12,345"),
    (np.float32(0.5), None, "0.500"), (16.4, 0, "16"), (1234.6, 0, "1,235"), (None, None, "–"), ("hnsw", None, "hnsw"),
])
def test_figures_are_written_for_people(value, decimals, text):
    assert figure(value, decimals) == text
