"""The RFM rules of DOMAIN.md, checked cell by cell without Spark."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from ecap.segmentation import SegmentationError
from ecap.segmentation.rfm import (
    ACTIONS,
    SEGMENT_GRID,
    SEGMENTS,
    VALUE_TIERS,
    fm_score,
    score_from_rank,
    score_positions,
    segment_for,
)

# DOMAIN.md's table, transcribed independently as (R, FM) -> segment for every one of the 25 cells.
DOMAIN_TABLE = {
    (5, 1): "New Customers", (5, 2): "Potential Loyalists", (5, 3): "Potential Loyalists",
    (5, 4): "Champions", (5, 5): "Champions",
    (4, 1): "Promising", (4, 2): "Potential Loyalists", (4, 3): "Potential Loyalists",
    (4, 4): "Loyal Customers", (4, 5): "Loyal Customers",
    (3, 1): "About to Sleep", (3, 2): "About to Sleep", (3, 3): "Need Attention",
    (3, 4): "Loyal Customers", (3, 5): "Loyal Customers",
    (2, 1): "Hibernating", (2, 2): "Hibernating", (2, 3): "At Risk", (2, 4): "At Risk",
    (2, 5): "Cannot Lose Them",
    (1, 1): "Lost", (1, 2): "Hibernating", (1, 3): "At Risk", (1, 4): "At Risk",
    (1, 5): "Cannot Lose Them",
}  # fmt: skip


def test_every_one_of_the_125_codes_maps_to_the_domain_table() -> None:
    seen: Counter[str] = Counter()
    for r, f, m in itertools.product(range(1, 6), repeat=3):
        fm = fm_score(f, m)
        segment = segment_for(r, fm)
        assert segment == DOMAIN_TABLE[(r, fm)], f"code {r}{f}{m}"
        seen[segment] += 1
    assert sum(seen.values()) == 125
    assert set(seen) == set(SEGMENTS)


def test_each_of_the_11_segments_is_reachable_and_the_grid_has_no_other_names() -> None:
    names = {name for row in SEGMENT_GRID for name in row}
    assert names == set(SEGMENTS) and len(SEGMENTS) == 11
    assert len(SEGMENT_GRID) == 5 and all(len(row) == 5 for row in SEGMENT_GRID)


@pytest.mark.parametrize(
    ("f", "m", "expected"),
    [(1, 1, 1), (1, 2, 2), (2, 1, 2), (2, 3, 3), (4, 5, 5), (5, 4, 5), (3, 3, 3), (1, 5, 3), (5, 5, 5)],
)
def test_fm_rounds_half_up(f: int, m: int, expected: int) -> None:
    assert fm_score(f, m) == expected


@pytest.mark.parametrize(
    ("rank", "n", "expected"),
    [
        (1, 1, 1),  # a single customer: percent_rank 0
        (1, 2, 1),
        (2, 2, 5),  # percent_rank 1 -> floor(5) = 5 -> capped at 4 -> score 5
        (1, 6, 1),
        (2, 6, 2),  # (2-1)/5 = 0.2 exactly -> floor(1.0) = 1
        (3, 6, 3),
        (4, 6, 4),
        (5, 6, 5),
        (6, 6, 5),
        (4, 11, 2),  # 3/10 * 5 = 1.5
        (7, 11, 4),  # 6/10 * 5 = 3.0: an exact edge a binary float could floor to 2
    ],
)
def test_score_from_rank_follows_the_percent_rank_formula(rank: int, n: int, expected: int) -> None:
    assert score_from_rank(rank, n) == expected


def test_every_segment_has_an_action_and_every_monetary_score_a_tier() -> None:
    assert set(ACTIONS) == set(SEGMENTS)
    assert all(text.endswith(".") and len(text) > 20 for text in ACTIONS.values())
    assert [VALUE_TIERS[m] for m in range(5, 0, -1)] == ["platinum", "gold", "silver", "bronze", "bronze"]


def test_scores_outside_1_to_5_are_rejected() -> None:
    with pytest.raises(SegmentationError, match="1..5"):
        segment_for(0, 3)
    with pytest.raises(SegmentationError, match="1..5"):
        segment_for(3, 6)


@pytest.mark.parametrize("n", [*range(1, 60), 97, 101, 1000, 12_345])
def test_scores_from_order_statistics_equal_the_rank_formula_for_every_rank(n: int) -> None:
    # Scoring compares with the value at each of these positions instead of ranking: a customer with
    # `rank - 1` strictly worse customers must clear exactly the positions below that count.
    positions = score_positions(n)
    assert sorted(positions) == ([] if n == 1 else [2, 3, 4, 5])
    for rank in range(1, n + 1):
        cleared = sum(1 for position in positions.values() if rank - 1 > position)
        assert 1 + cleared == score_from_rank(rank, n), (rank, n)
