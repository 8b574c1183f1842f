"""Rank fusion: weighted reciprocal rank fusion and exact top-k with deterministic ties."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rag.vector_index import distinct


@dataclass(frozen=True)
class Ranking:
    """Rows of the store, best first, with the retriever's own scores."""

    rows: NDArray[np.int64]
    scores: NDArray[np.float32]


def fused_scores(
    n_rows: int, rankings: Sequence[tuple[Ranking, float]], rrf_k: int
) -> NDArray[np.float64]:
    """Reciprocal rank fusion over every row at once (rows in no ranking score 0)."""
    fused = np.zeros(n_rows, dtype=np.float64)
    for ranking, weight in rankings:
        fused[ranking.rows] += weight / (rrf_k + np.arange(1, len(ranking.rows) + 1))
    return fused


def rrf(
    rankings: Sequence[tuple[Ranking, float]], rrf_k: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Weighted reciprocal rank fusion of the rows in any ranking, best first, ties by row."""
    rows = distinct(np.concatenate([np.empty(0, np.int64), *(r.rows for r, _ in rankings)]))
    if len(rows) == 0:
        return rows.astype(np.int64), np.empty(0, np.float64)
    fused = fused_scores(int(rows[-1]) + 1, rankings, rrf_k)[rows]
    order = np.lexsort((rows, -fused))
    return rows[order].astype(np.int64), fused[order]


def top_rows(scores: NDArray[np.float32], rows: NDArray[np.int64], k: int) -> Ranking:
    """The k best of `scores` (aligned with `rows`), best first, ties by row."""
    k = min(k, len(rows))
    if k == 0:
        return Ranking(np.empty(0, np.int64), np.empty(0, np.float32))
    # argpartition splits the scores tied with the k-th best in no particular order, so the
    # ties are cut by row here (without sorting them: BM25 ties thousands of rows at 0).
    kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
    better = np.flatnonzero(scores > kth)
    tied = np.flatnonzero(scores == kth)
    need = k - len(better)
    if len(tied) > need:
        tied = tied[np.argpartition(rows[tied], need - 1)[:need]]
    chosen = np.concatenate([better, tied])
    order = chosen[np.lexsort((rows[chosen], -scores[chosen]))]
    return Ranking(rows[order], scores[order])


def rank_lookup(ranking: Ranking | None) -> dict[int, int]:
    if ranking is None:
        return {}
    return {row: rank for rank, row in enumerate(ranking.rows.tolist(), start=1)}


def distinct_passages(
    order: NDArray[np.int64], best_sentence: NDArray[np.int64], k: int
) -> NDArray[np.int64]:
    """Positions in `order` of the first k chunks whose best sentence was not shown before:
    overlapping chunks that share their best sentence are one passage, not two hits."""
    seen: set[int] = set()
    keep: list[int] = []
    for position, row in enumerate(order.tolist()):
        sentence = int(best_sentence[row])
        if sentence >= 0 and sentence in seen:
            continue
        seen.add(sentence)
        keep.append(position)
        if len(keep) == k:
            break
    return np.array(keep, dtype=np.int64)
