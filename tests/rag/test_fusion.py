"""Rank fusion: rrf by hand, fused_scores, exact top-k, rank lookup and distinct passages."""

from __future__ import annotations

from random import Random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.fusion import Ranking, distinct_passages, fused_scores, rank_lookup, rrf, top_rows


def ranking(rows: list[int]) -> Ranking:
    return Ranking(np.array(rows, dtype=np.int64), np.zeros(len(rows), dtype=np.float32))


def test_rrf_by_hand() -> None:
    order, fused = rrf([(ranking([3, 1, 2]), 2.0), (ranking([1, 4]), 1.0)], rrf_k=60)
    expected = {1: 2 / 62 + 1 / 61, 3: 2 / 61, 2: 2 / 63, 4: 1 / 62}
    assert order.tolist() == [1, 3, 2, 4]
    assert fused.tolist() == pytest.approx([expected[r] for r in order.tolist()])
    order, _ = rrf([(ranking([5]), 1.0), (ranking([2]), 1.0)], rrf_k=10)
    assert order.tolist() == [2, 5]  # a tie goes to the lower row


def test_rrf_of_nothing_is_empty() -> None:
    order, fused = rrf([], rrf_k=60)
    assert order.tolist() == [] and fused.tolist() == []
    order, fused = rrf([(ranking([]), 1.0)], rrf_k=60)
    assert order.tolist() == [] and fused.tolist() == []


@given(st.integers(1, 30), st.randoms(), st.floats(0, 3), st.floats(0, 3), st.integers(1, 100))
def test_fused_scores_equal_rrf_on_full_rankings(
    n: int, rng: Random, first_weight: float, second_weight: float, rrf_k: int
) -> None:
    rankings = []
    for weight in (first_weight, second_weight):
        rows = list(range(n))
        rng.shuffle(rows)
        rankings.append((ranking(rows), weight))
    order, fused = rrf(rankings, rrf_k)
    np.testing.assert_allclose(fused_scores(n, rankings, rrf_k)[order], fused)
    reference = {
        row: sum(w / (rrf_k + r.rows.tolist().index(row) + 1) for r, w in rankings)
        for row in range(n)
    }
    assert order.tolist() == sorted(range(n), key=lambda row: (-reference[row], row))
    partial = fused_scores(n + 2, rankings, rrf_k)
    assert partial[n:].tolist() == [0.0, 0.0]  # rows in no ranking


@given(st.lists(st.integers(0, 4), max_size=30), st.integers(0, 35), st.randoms())
def test_top_rows_against_sorting(values: list[int], k: int, rng: Random) -> None:
    scores = np.array(values, dtype=np.float32)
    rows = np.array(rng.sample(range(100, 200), len(values)), dtype=np.int64)
    top = top_rows(scores, rows, k)
    reference = np.lexsort((rows, -scores))[:k]  # by score, ties by row
    assert top.rows.tolist() == rows[reference].tolist()
    assert top.scores.tolist() == scores[reference].tolist()


def test_rank_lookup_is_one_based() -> None:
    assert rank_lookup(ranking([7, 2, 9])) == {7: 1, 2: 2, 9: 3}
    assert rank_lookup(None) == {}


def test_distinct_passages_by_hand() -> None:
    # rows 0..5; rows 1 and 3 share their best sentence with row 0, row 4 has no sentence
    best_sentence = np.array([10, 10, 11, 10, -1, -1], dtype=np.int64)
    order = np.array([0, 1, 2, 3, 4, 5], dtype=np.int64)
    assert distinct_passages(order, best_sentence, 10).tolist() == [0, 2, 4, 5]
    assert distinct_passages(order, best_sentence, 3).tolist() == [0, 2, 4]  # keeps k
    # positions, not rows: the order is what the caller ranked
    reordered = np.array([3, 2, 0, 5], dtype=np.int64)
    assert distinct_passages(reordered, best_sentence, 2).tolist() == [0, 1]
    assert distinct_passages(reordered, best_sentence, 9).tolist() == [0, 1, 3]


@given(
    st.lists(st.integers(-1, 5), min_size=0, max_size=25),
    st.integers(1, 30),
    st.randoms(),
)
def test_distinct_passages_against_brute_force(best: list[int], k: int, rng: Random) -> None:
    best_sentence = np.array(best, dtype=np.int64)
    rows = list(range(len(best)))
    rng.shuffle(rows)
    order = np.array(rows, dtype=np.int64)
    kept = distinct_passages(order, best_sentence, k).tolist()
    expected: list[int] = []
    shown: set[int] = set()
    for position, row in enumerate(rows):
        if best[row] >= 0 and best[row] in shown:
            continue
        shown.add(best[row])
        expected.append(position)
    assert kept == expected[:k]
    shown_sentences = [best[rows[p]] for p in kept if best[rows[p]] >= 0]
    assert len(shown_sentences) == len(set(shown_sentences))  # no sentence twice
