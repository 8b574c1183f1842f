"""The segmented forms of the scoring: many documents in one pass give each document's own
result, held to a written-out loop over the documents."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.typing import NDArray

from rag.policy import Policy, Support, Thresholds
from rag.scoring import (
    NO_SUPPORT,
    best_distinct,
    distinctiveness,
    narrowed,
    segments_of,
    similarity,
    support,
    supports,
)

IDENTITIES = ("a", "b")
THRESHOLDS = Thresholds(
    low_confidence=0.1, high_confidence=0.3, submitter_threshold=0.0, corpus_gap=0.1,
    specific_gap=0.05,
)  # fmt: skip


def policy(n: int, typicality_weight: float = 0.5) -> Policy:
    return Policy(
        weights={"a": 0.3, "b": 0.7},
        support_weights={"a": 0.6, "b": 0.4},
        context_mix=0.5,
        support=Support(
            typicality_weight=typicality_weight, support_sentences=n, vocabulary_weight=0.2
        ),
        thresholds=THRESHOLDS,
    )


def documents(seed: int) -> tuple[list[int], NDArray[np.float32], NDArray[np.int64]]:
    """Lengths of some documents (empty ones among them), features, wordings with repeats and
    values rounded so that ties occur."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 25, size=12).tolist()
    lengths[3] = 0
    n = sum(lengths)
    features = np.round(rng.uniform(-0.2, 0.9, size=(3, n, 2)), 2).astype(np.float32)
    wordings = rng.integers(0, max(1, n // 3), size=n).astype(np.int64)
    return lengths, features, wordings


def pieces(lengths: list[int]) -> list[slice]:
    edges = np.cumsum([0, *lengths]).tolist()
    return [slice(a, b) for a, b in itertools.pairwise(edges)]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("n", [1, 2, 5])
def test_support_of_each_document_in_one_pass_is_its_support_alone(seed: int, n: int) -> None:
    lengths, (own, _, typical), wordings = documents(seed)
    rule = policy(n)
    weights = np.array([0.6, 0.4], dtype=np.float32)
    distinct = distinctiveness(own, typical, weights, 0.5)
    found = supports(distinct, wordings, segments_of(lengths), len(lengths), rule, 0.75)
    alone = [support(distinct[p], wordings[p], rule, 0.75) for p in pieces(lengths)]
    np.testing.assert_allclose(found, alone, rtol=0, atol=1e-9)
    assert found[3] == NO_SUPPORT


@pytest.mark.parametrize("seed", range(8))
def test_support_is_the_mean_of_the_best_distinct_wordings(seed: int) -> None:
    _, (own, _, _), wordings = documents(seed)
    values = own[:, 0]
    best: dict[int, float] = {}
    for wording, value in zip(wordings.tolist(), values.tolist(), strict=True):
        best[wording] = max(value, best.get(wording, -np.inf))
    top = sorted(best.values(), reverse=True)[:3]
    chosen = best_distinct(values, wordings, 3)
    assert sorted(values[chosen].tolist(), reverse=True) == pytest.approx(top)
    assert len(set(wordings[chosen].tolist())) == len(chosen)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(("per_document", "n"), [(1, 1), (2, 3), (10, 20)])
def test_narrowing_many_documents_at_once_narrows_each_alone(
    seed: int, per_document: int, n: int
) -> None:
    lengths, (own, chunk, typical), _ = documents(seed)
    rule = policy(n)
    found = narrowed(own, chunk, typical, rule, IDENTITIES, per_document, segments_of(lengths))
    alone = [
        p.start + narrowed(own[p], chunk[p], typical[p], rule, IDENTITIES, per_document)
        for p in pieces(lengths)
    ]
    np.testing.assert_array_equal(found, np.concatenate([np.empty(0, np.int64), *alone]))


def test_narrowing_keeps_the_closest_and_the_most_distinctive_of_a_document() -> None:
    _, (own, chunk, typical), _ = documents(3)
    rule = policy(2, typicality_weight=1.0)
    found = set(narrowed(own, chunk, typical, rule, IDENTITIES, 2).tolist())
    close = similarity(own, chunk, np.array([0.3, 0.7], np.float32), 0.5)
    distinct = distinctiveness(own, typical, np.array([0.6, 0.4], np.float32), 1.0)
    expected = set(np.argsort(-close, kind="stable")[:6].tolist())
    expected |= set(np.argsort(-distinct, kind="stable")[:6].tolist())
    assert found == expected


def test_a_rows_similarity_does_not_depend_on_the_rows_scored_with_it() -> None:
    _, (own, chunk, _), _ = documents(5)
    weights = np.array([0.3, 0.7], dtype=np.float32)
    every = similarity(own, chunk, weights, 0.5)
    one_at_a_time = [
        similarity(own[i : i + 1], chunk[i : i + 1], weights, 0.5)[0] for i in range(9)
    ]
    assert every[:9].tolist() == one_at_a_time
