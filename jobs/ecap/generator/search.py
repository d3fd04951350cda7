"""Binary search for many needles at once."""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import numpy.typing as npt

SORT_NEEDLES_FROM: Final = 256
"""Below this many needles, sorting them costs more than it saves."""


def searchsorted_many(
    haystack: npt.NDArray[np.float64] | npt.NDArray[np.int64],
    needles: npt.NDArray[np.float64] | npt.NDArray[np.int64],
    side: Literal["left", "right"] = "left",
) -> npt.NDArray[np.intp]:
    """``np.searchsorted(haystack, needles, side)`` for many needles in any order, the same positions.

    The needles are searched in sorted order: numpy then starts each search from the previous result
    and the searches walk the haystack front to back, where random needles cost a cache miss and a
    mispredicted branch per step (measured ~0.40 -> ~0.17 ms for 6,000 needles in 5,000 values).
    """
    if needles.size < SORT_NEEDLES_FROM:
        return np.searchsorted(haystack, needles, side=side)
    order = np.argsort(needles)
    positions = np.empty(needles.size, dtype=np.intp)
    positions[order] = np.searchsorted(haystack, needles[order], side=side)
    return positions
