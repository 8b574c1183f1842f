"""FAISS search checked against a NumPy brute-force reference, for every index type."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from rag.dense import FAISS_TYPES, build_faiss, choose_faiss_type, search

DIMENSION = 32


def unit_rows(matrix: NDArray[np.float64]) -> NDArray[np.float32]:
    rows: NDArray[np.float32] = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return rows.astype(np.float32)


def random_unit(n: int, seed: int) -> NDArray[np.float32]:
    return unit_rows(np.random.default_rng(seed).normal(size=(n, DIMENSION)))


def clustered_unit(n: int, clusters: int, seed: int) -> NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, DIMENSION))
    members = centres[rng.integers(0, clusters, size=n)]
    return unit_rows(members + rng.normal(size=(n, DIMENSION)))  # clusters that overlap


def brute_force(
    vectors: NDArray[np.float32], queries: NDArray[np.float32], k: int
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    scores = queries.astype(np.float64) @ vectors.astype(np.float64).T
    order = np.argsort(-scores, axis=1, kind="stable")[:, : min(k, len(vectors))]
    return np.take_along_axis(scores, order, axis=1).astype(np.float32), order


@pytest.mark.parametrize(("n", "k"), [(1, 1), (1, 5), (7, 3), (7, 10), (1000, 10), (1000, 1)])
def test_flat_search_equals_brute_force(n: int, k: int) -> None:
    vectors = random_unit(n, seed=n)
    queries = random_unit(5, seed=n + 1)
    scores, rows = search(build_faiss(vectors, "flat"), queries, k)
    expected_scores, expected_rows = brute_force(vectors, queries, k)
    assert rows.shape == (5, min(k, n))  # k > n gives every row, never -1 padding
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


def test_scores_are_cosine_similarities_of_unit_vectors() -> None:
    vectors = random_unit(50, seed=3)
    scores, rows = search(build_faiss(vectors, "flat"), vectors[:4], 1)
    np.testing.assert_array_equal(rows[:, 0], np.arange(4))  # each vector finds itself
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)


def test_k_zero_gives_empty_results() -> None:
    scores, rows = search(build_faiss(random_unit(5, seed=0), "flat"), random_unit(2, seed=1), 0)
    assert scores.shape == rows.shape == (2, 0)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_recall_nine_in_ten(kind: str) -> None:
    data = clustered_unit(2100, clusters=40, seed=11)
    vectors, queries = data[:2000], data[2000:]  # queries from the same clusters, not indexed
    _, rows = search(build_faiss(vectors, kind), queries, 10)  # type: ignore[arg-type]
    _, expected = brute_force(vectors, queries, 10)
    found = sum(len(set(got) & set(want)) for got, want in zip(rows, expected, strict=True))
    assert found / expected.size >= 0.9


@pytest.mark.parametrize("kind", FAISS_TYPES)
@pytest.mark.parametrize("n", [1, 7, 60])
def test_every_index_type_builds_and_searches_small_corpora(kind: str, n: int) -> None:
    vectors = random_unit(n, seed=n)
    scores, rows = search(build_faiss(vectors, kind), vectors, 1)  # type: ignore[arg-type]
    assert rows.shape == (n, 1)
    hits = rows[:, 0] == np.arange(n)
    np.testing.assert_allclose(scores[hits, 0], 1.0, atol=1e-5)
    assert hits.mean() >= 0.9


def test_auto_is_exact_below_the_threshold_and_ivf_from_it() -> None:
    assert choose_faiss_type("auto", 999, ann_threshold=1000) == "flat"
    assert choose_faiss_type("auto", 1000, ann_threshold=1000) == "ivf"


@pytest.mark.parametrize("kind", FAISS_TYPES)
def test_an_explicit_type_is_kept_whatever_the_size(kind: str) -> None:
    assert choose_faiss_type(kind, 1, ann_threshold=1000) == kind
    assert choose_faiss_type(kind, 10**6, ann_threshold=1000) == kind


def test_an_unknown_type_names_the_valid_choices() -> None:
    with pytest.raises(ValueError, match="'annoy'") as caught:
        choose_faiss_type("annoy", 10, ann_threshold=1000)
    for choice in ("auto", *FAISS_TYPES):
        assert choice in str(caught.value)
