"""Hybrid retrieval: fusion and ranking helpers against references, search on a small index."""

from __future__ import annotations

from random import Random
from typing import TYPE_CHECKING

import numpy as np
import pytest
from fakes import FakeEmbedder
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from rag.errors import InvalidFilter
from rag.retrieve import (
    MODES,
    Filters,
    Mode,
    Ranking,
    Retriever,
    first_per_group,
    fused_scores,
    rrf,
    top_rows,
)
from rag.store import load_index, stored_vectors

if TYPE_CHECKING:
    from conftest import Corpus

QUERY = "Hvor lange er ventetidene på legevakten om natten?"


def ranking(rows: list[int]) -> Ranking:
    return Ranking(np.array(rows, dtype=np.int64), np.zeros(len(rows), dtype=np.float32))


def best_first(scores: NDArray[np.floating], rows: list[int]) -> list[int]:
    """Rows by score, best first, ties by row: the order every ranking here promises."""
    return sorted(rows, key=lambda r: (-scores[r], r))


# --- fusion and ranking helpers ------------------------------------------------------------


def test_rrf_by_hand() -> None:
    order, fused = rrf([(ranking([3, 1, 2]), 2.0), (ranking([1, 4]), 1.0)], rrf_k=60)
    expected = {1: 2 / 62 + 1 / 61, 3: 2 / 61, 2: 2 / 63, 4: 1 / 62}
    assert order.tolist() == [1, 3, 2, 4]
    assert fused.tolist() == pytest.approx([expected[r] for r in order.tolist()])
    order, _ = rrf([(ranking([5]), 1.0), (ranking([2]), 1.0)], rrf_k=10)
    assert order.tolist() == [2, 5]  # a tie goes to the lower row


@given(st.integers(1, 30), st.randoms(), st.floats(0, 3), st.floats(0, 3), st.integers(1, 100))
def test_fused_scores_equal_rrf_on_full_rankings(
    n: int, rng: Random, dense_weight: float, bm25_weight: float, rrf_k: int
) -> None:
    rankings = []
    for weight in (dense_weight, bm25_weight):
        rows = list(range(n))
        rng.shuffle(rows)
        rankings.append((ranking(rows), weight))
    order, fused = rrf(rankings, rrf_k)
    np.testing.assert_allclose(fused_scores(n, rankings, rrf_k)[order], fused)
    partial = fused_scores(n + 2, rankings, rrf_k)
    assert partial[n:].tolist() == [0.0, 0.0]  # rows in no ranking


@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(-3, 3)), max_size=40),
    st.integers(1, 5),
)
def test_first_per_group_against_brute_force(pairs: list[tuple[int, int]], per_group: int) -> None:
    groups = np.array([g for g, _ in pairs], dtype=np.int64)
    scores = np.array([s / 2 for _, s in pairs], dtype=np.float64)
    expected = []
    for g in sorted(set(groups.tolist())):
        members = [i for i in range(len(pairs)) if groups[i] == g]
        expected += sorted(members, key=lambda i: (-scores[i], i))[:per_group]
    assert first_per_group(groups, scores, per_group).tolist() == expected


@given(st.lists(st.integers(0, 4), max_size=30), st.integers(0, 35), st.randoms())
def test_top_rows_against_sorting(values: list[int], k: int, rng: Random) -> None:
    scores = np.array(values, dtype=np.float32)
    rows = np.array(rng.sample(range(100, 200), len(values)), dtype=np.int64)
    top = top_rows(scores, rows, k)
    reference = np.lexsort((rows, -scores))[:k]  # by score, ties by row
    assert top.rows.tolist() == rows[reference].tolist()
    assert top.scores.tolist() == scores[reference].tolist()


# --- search on a small index ---------------------------------------------------------------


@pytest.fixture
def retriever(corpus: Corpus) -> Retriever:
    corpus.build()
    return Retriever(load_index(corpus.index_path), FakeEmbedder(), corpus.settings.retrieval)


def dense_scores(retriever: Retriever, query: str) -> NDArray[np.float32]:
    """Brute force: every stored vector against the query's vector."""
    query_vector = FakeEmbedder().embed_queries([query])[0]
    scores: NDArray[np.float32] = stored_vectors(retriever.index) @ query_vector
    return scores


def reference_fused(retriever: Retriever, query: str, rows: list[int]) -> dict[int, float]:
    """Weighted RRF of the brute-force dense ranking and the BM25 hits, over `rows`."""
    settings = retriever.settings
    bm25 = retriever.index.bm25.scores(query)
    fused = dict.fromkeys(rows, 0.0)
    for scores, weight, keep in (
        (dense_scores(retriever, query), settings.dense_weight, rows),
        (bm25, settings.bm25_weight, [r for r in rows if bm25[r] > 0]),
    ):
        for rank, row in enumerate(best_first(scores, keep), start=1):
            fused[row] += weight / (settings.rrf_k + rank)
    return fused


def rows_of(retriever: Retriever, document_ids: set[str]) -> list[int]:
    return [i for i, c in enumerate(retriever.index.chunks) if c.document_id in document_ids]


def row_of(retriever: Retriever, chunk_id: str) -> int:
    return [c.chunk_id for c in retriever.index.chunks].index(chunk_id)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", [1, 3, 50])
@pytest.mark.parametrize(
    ("filters", "allowed"),
    [
        (Filters(), {"bergen", "moss", "more"}),
        (Filters(submitter=("Bergen kommune",)), {"bergen"}),
        (Filters(submitter_type=("kommune",)), {"bergen", "moss"}),
        (Filters(document_id=("moss", "more")), {"moss", "more"}),
    ],
)
def test_search_ranks_like_the_reference(
    retriever: Retriever, mode: Mode, k: int, filters: Filters, allowed: set[str]
) -> None:
    hits = retriever.search(QUERY, k, filters, mode)
    rows = [row_of(retriever, h.chunk.chunk_id) for h in hits]
    scores = [h.score for h in hits]
    allowed_rows = rows_of(retriever, allowed)
    assert hits and len(hits) <= k
    assert {h.chunk.document_id for h in hits} <= allowed
    assert scores == sorted(scores, reverse=True)
    if mode == "dense":
        brute = dense_scores(retriever, QUERY)
        assert rows == best_first(brute, allowed_rows)[:k]
        np.testing.assert_allclose(scores, brute[rows], rtol=1e-5)
    elif mode == "bm25":
        bm25 = retriever.index.bm25.scores(QUERY)
        assert rows == [r for r in best_first(bm25, allowed_rows) if bm25[r] > 0][:k]
    else:
        fused = reference_fused(retriever, QUERY, allowed_rows)
        assert rows == best_first(fused, allowed_rows)[:k]
        assert scores == pytest.approx([fused[r] for r in rows])


def test_search_rejects_an_unknown_mode(retriever: Retriever) -> None:
    with pytest.raises(ValueError, match="hybrid"):
        retriever.search(QUERY, 3, mode="sparse")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            Filters(submitter=("Oslo kommune",)),
            "unknown submitter 'Oslo kommune'; valid values: "
            "Bergen kommune, Moss kommune, Møre og Romsdal fylkeskommune",
        ),
        (
            Filters(submitter_type=("stat",)),
            "unknown submitter_type 'stat'; valid values: fylkeskommune, kommune",
        ),
        (
            Filters(document_id=("moss", "oslo")),
            "unknown document_id 'oslo'; valid values: bergen, more, moss",
        ),
    ],
)
def test_unknown_filter_values_name_the_valid_ones(
    retriever: Retriever, filters: Filters, message: str
) -> None:
    with pytest.raises(InvalidFilter) as caught:
        retriever.search(QUERY, 3, filters)
    assert str(caught.value) == message
    with pytest.raises(InvalidFilter):
        retriever.best_per_document(QUERY, retriever.embed_query(QUERY), filters)


KOMMUNER = Filters(submitter_type=("kommune",))


@pytest.mark.parametrize(
    ("per_document", "max_documents", "filters"),
    [
        (5, 50, Filters()),
        (1, 50, Filters()),
        (2, 2, Filters()),
        (1, 1, Filters()),
        (2, 50, KOMMUNER),
    ],
)
def test_best_per_document_against_brute_force(
    retriever: Retriever, per_document: int, max_documents: int, filters: Filters
) -> None:
    allowed = {"bergen", "moss"} if filters == KOMMUNER else {"bergen", "moss", "more"}
    vector = retriever.embed_query(QUERY)
    hits = retriever.best_per_document(QUERY, vector, filters, per_document, max_documents)
    fused = reference_fused(retriever, QUERY, rows_of(retriever, allowed))
    best = {d: best_first(fused, rows_of(retriever, {d}))[:per_document] for d in allowed}
    documents = sorted(allowed, key=lambda d: -fused[best[d][0]])[:max_documents]
    expected = {r: fused[r] for d in documents for r in best[d]}
    found = {row_of(retriever, h.chunk.chunk_id): h.score for h in hits}
    assert found == pytest.approx(expected)
    assert [h.score for h in hits] == sorted(found.values(), reverse=True)
    brute = dense_scores(retriever, QUERY)
    for hit in hits:
        assert hit.similarity == pytest.approx(brute[row_of(retriever, hit.chunk.chunk_id)])


def test_a_repeated_query_is_embedded_once(corpus: Corpus) -> None:
    corpus.build()
    embedder = FakeEmbedder()
    retriever = Retriever(load_index(corpus.index_path), embedder, corpus.settings.retrieval)
    first = retriever.embed_query(QUERY)
    again = retriever.embed_query(QUERY)
    retriever.search(QUERY, 3)
    assert embedder.calls == [[QUERY]]
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first, FakeEmbedder().embed_queries([QUERY])[0])
    retriever.search("Hva med tannhelse?", 3)
    assert embedder.calls == [[QUERY], ["Hva med tannhelse?"]]
