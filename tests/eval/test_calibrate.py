"""Calibration on dev: grids, cross-validated refusal, thresholds, and the policy file it writes.

Each piece is checked on small hand-made numbers against a plain re-computation; the whole
calibration runs on the fake corpus (tests/rag/conftest.py) in tests/eval/test_calibrate_corpus.py
and on the seeds with the real encoders in tests/eval/test_calibrate_seeds.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from eval.calibrate import (
    FALSE_REFUSAL_COST,
    MARGINS,
    Pooled,
    RankingRow,
    SubmitterRow,
    SupportRow,
    calibrate_refusal,
    chosen_then_judged,
    cross_validated,
    halvings,
    objective,
    refusal_bar,
    refusal_ceiling,
    supports,
    sure_bar,
    weight_grid,
    widened,
)
from rag.policy import Fusion, Support


def test_halvings_keep_answerable_questions_on_both_sides() -> None:
    answerable = np.array([True, False, False, False, True, False])
    halves = halvings(answerable, 300)
    assert 0 < len(halves) <= 300
    assert ((halves & answerable).any(axis=1) & (~halves & answerable).any(axis=1)).all()
    np.testing.assert_array_equal(halves, halvings(answerable, 300))  # the same draw each time


def test_the_refusal_bar_sits_a_margin_under_the_weakest_answerable() -> None:
    supports_ = np.array([0.9, 0.8, 0.7])
    assert refusal_bar(supports_, 0.0) == pytest.approx(0.7)
    assert refusal_bar(supports_, 0.5) == pytest.approx(0.7 - 0.5 * np.std(supports_))


def test_cross_validation_sets_the_bar_on_one_half_and_counts_on_the_other() -> None:
    rng = np.random.default_rng(3)
    support = rng.normal(0.8, 0.05, 24)
    answerable = np.arange(24) % 3 != 0
    support[~answerable] -= 0.06  # negatives a little lower
    margin = 0.25
    false, refused = [], []
    for half in halvings(answerable, 50):  # the same halvings, one at a time
        low = refusal_bar(support[half & answerable], margin)
        other = ~half
        false.append(np.mean(support[other & answerable] < low))
        if (other & ~answerable).any():
            refused.append(np.mean(support[other & ~answerable] < low))
    assert cross_validated(support, answerable, margin, 50) == pytest.approx(
        (np.mean(false), np.mean(refused))
    )


def test_the_ceiling_counts_the_negatives_under_the_weakest_real_question() -> None:
    support = np.array([0.9, 0.7, 0.6, 0.75, 0.65])
    answerable = np.array([True, True, False, False, False])
    assert refusal_ceiling(support, answerable) == pytest.approx(2 / 3)


def test_the_nested_choice_picks_the_setting_that_separates() -> None:
    answerable = np.arange(40) % 4 != 0
    separating = np.where(answerable, 0.9, 0.5)
    mixed = np.where(np.arange(40) % 2 == 0, 0.9, 0.5)  # as many negatives high as real ones
    false, refused = chosen_then_judged(np.stack([mixed, separating]), answerable, 0.0)
    assert false == 0.0 and refused == 1.0


def test_a_false_refusal_costs_several_refused_negatives() -> None:
    assert objective(0.0, 0.5) == 0.5
    assert objective(0.01, 0.5) == pytest.approx(0.5 - FALSE_REFUSAL_COST * 0.01)
    row = SupportRow((1.0,), Support(), 0.02, 0.6, 0.7)
    assert row.objective == pytest.approx(0.6 - FALSE_REFUSAL_COST * 0.02)


def test_weights_share_the_spread_scaled_cosine() -> None:
    spreads = np.array([0.02, 0.06], dtype=np.float32)
    grid = weight_grid([True, True], spreads)
    assert grid[0] == (1.0, 0.0) and grid[-1] == (0.0, 1.0) and len(grid) == 11
    assert all(sum(w) == pytest.approx(1.0) for w in grid)
    # half the say: the wider encoder's weight is smaller by the ratio of the spreads
    assert grid[5][0] / grid[5][1] == pytest.approx(3.0, rel=1e-3)
    assert weight_grid([True, False], spreads) == [(1.0, 0.0)]


def test_a_pick_on_the_grid_edge_widens_the_grid() -> None:
    seen: list[tuple[float, ...]] = []

    def best_is_three(grid: tuple[float, ...]) -> float:
        seen.append(grid)
        return min(grid, key=lambda v: abs(v - 3.0))

    pick, grid = widened("context_mix", (0.0, 0.5, 1.0), best_is_three)
    assert pick < grid[-1] and pick == min(grid, key=lambda v: abs(v - 3.0))  # inside now
    assert abs(pick - 3.0) <= 0.5 and seen[0] == (0.0, 0.5, 1.0) and len(seen) > 1

    def always_the_top(grid: tuple[float, ...]) -> float:
        return grid[-1]

    pick, grid = widened("vocabulary_weight", (0.0, 0.1), always_the_top)
    assert pick == grid[-1] == 2.0  # stops at the bound
    inside, same = widened("typicality_weight", (0.0, 1.0, 2.0), lambda g: 1.0)
    assert (inside, same) == (1.0, (0.0, 1.0, 2.0))


def pools(count: int, seed: int = 0) -> list[Pooled]:
    """Questions whose second encoder tells negatives apart and whose first does not."""
    rng = np.random.default_rng(seed)
    found = []
    for i in range(count):
        answerable = i % 3 != 0
        second = 0.6 if answerable else 0.45
        own = np.stack([rng.normal(0.8, 0.03, 12), rng.normal(second, 0.02, 12)], axis=1).astype(
            np.float32
        )
        typical = np.zeros_like(own)
        found.append(Pooled(own, typical, np.arange(12), 1.0, answerable))
    return found


def test_supports_follow_the_support_weights_and_setting() -> None:
    questions = pools(6)
    setting = Support(typicality_weight=0.0, support_sentences=2, vocabulary_weight=0.0)
    first = supports(questions, np.array([1.0, 0.0], dtype=np.float32), setting)
    for value, question in zip(first, questions, strict=True):
        assert value == pytest.approx(np.sort(question.own[:, 0])[-2:].mean(), abs=1e-6)


def test_the_refusal_is_calibrated_on_the_encoder_that_separates() -> None:
    found = calibrate_refusal(pools(30), [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)])
    assert found.best.weights[1] > 0  # the second encoder has the say
    assert found.best.negatives_refused > 0.9
    assert found.best.objective > 0  # refusing the negatives is worth its false refusals
    assert found.margin in MARGINS
    low, high = found.thresholds
    assert low <= high


def test_rows_are_preferred_by_their_objectives() -> None:
    good = RankingRow((1.0,), Fusion(), 0.8, 1.0, 0.6)
    assert good.objective == pytest.approx(round((0.8 + 1.0 + 0.6) / 3, 4))
    covering = SubmitterRow(1.0, 0.5, 0.1, 0.02, 0.8, 0.96, 0.6)
    precise = SubmitterRow(1.0, 0.6, 0.1, 0.02, 0.95, 0.9, 0.7)  # misses submitters
    assert max([precise, covering], key=lambda r: r.preference) is covering


def test_the_sure_bar_is_the_lowest_support_with_the_asked_precision() -> None:
    pairs = [(0.9, True), (0.85, True), (0.8, False), (0.8, True), (0.7, True), (0.6, False)]
    # from 0.85: 2 of 2 gold; from 0.8: 3 of 4; from 0.7: 4 of 5; from 0.6: 4 of 6
    found = sure_bar(pairs, precision=0.75)
    assert (found.bar, found.sure, found.quoted, found.precision) == (0.7, 5, 6, 0.8)
    assert sure_bar(pairs, precision=0.95).bar == 0.85
    assert sure_bar(pairs, precision=0.5).bar == 0.6


def test_equal_supports_stand_or_fall_together_and_no_bar_may_reach_the_precision() -> None:
    assert sure_bar([(0.8, True), (0.8, False)], precision=0.9).bar is None
    assert sure_bar([(0.9, False), (0.5, True)], precision=0.9).bar is None
    assert sure_bar([], precision=0.9).bar is None
