"""Searching many needles at once gives exactly numpy's positions, whatever their order."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest

from ecap.generator.search import searchsorted_many


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("needles", [10, 5_000])
def test_positions_equal_numpys(side: Literal["left", "right"], needles: int) -> None:
    rng = np.random.default_rng(needles)
    haystack = np.sort(rng.integers(0, 300, size=1_000)).astype(np.float64)  # many ties
    values = rng.integers(-10, 310, size=needles).astype(np.float64)  # duplicates, both ends
    expected = np.searchsorted(haystack, values, side=side)
    np.testing.assert_array_equal(searchsorted_many(haystack, values, side=side), expected)
