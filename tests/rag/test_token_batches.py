"""Token-budget batches: every row once, similar lengths together, little padding."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rag.token_batches import length_batches, padded


@given(st.lists(st.integers(1, 512), max_size=60), st.integers(1, 8))
def test_batches_cover_every_row_once_within_the_budget(lengths: list[int], rows: int) -> None:
    batches = length_batches(lengths, budget=1024, max_rows=rows)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) <= rows
        assert len(batch) == 1 or len(batch) * longest <= 1024


def test_batches_group_similar_lengths() -> None:
    lengths = [500, 10, 490, 12, 11, 505]
    assert length_batches(lengths, budget=10_000, max_rows=3) == [[1, 4, 3], [2, 0, 5]]


def test_a_row_longer_than_the_budget_is_a_batch_of_its_own() -> None:
    assert length_batches([5, 300, 6], budget=100, max_rows=8) == [[0, 2], [1]]


def test_padding_fills_after_each_row_and_the_mask_marks_the_tokens() -> None:
    ids, mask = padded([[7, 8, 9], [5]], pad=0)
    np.testing.assert_array_equal(ids, [[7, 8, 9], [5, 0, 0]])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 0, 0]])
    assert ids.dtype == mask.dtype == np.int64
