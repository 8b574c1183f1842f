"""Rows of token ids grouped by length under a token budget, and padded into one matrix.

Both encoder engines (`rag.e5_engine`, `rag.gemma_engine`) sort the rows of a call by length and
cut them into batches whose padded size (rows x longest row) stays within a budget: a batch then
carries little padding, and its activations stay small enough to remain in the CPU's caches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

IntMatrix = NDArray[np.int64]


def length_batches(lengths: Sequence[int], budget: int, max_rows: int) -> list[list[int]]:
    """Indices grouped shortest first so that rows x longest row stays within `budget` (a row
    longer than the budget is a batch of its own)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[i]  # sorted: the newest row is the longest
        if current and (len(current) >= max_rows or (len(current) + 1) * longest > budget):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def padded(rows: Sequence[Sequence[int]], pad: int) -> tuple[IntMatrix, IntMatrix]:
    """(ids, mask): the rows left-aligned in one matrix, `pad` and mask 0 after each row's end."""
    longest = max(len(r) for r in rows)
    ids = np.full((len(rows), longest), pad, dtype=np.int64)
    mask = np.zeros((len(rows), longest), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return ids, mask
