"""The viewpoint measure: pair counts, adjusted Rand, the annotated partition, the pairs file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from eval.viewpoints import (
    DEFAULT_PAIRS,
    QuoteRef,
    ViewpointPair,
    adjusted_rand,
    components,
    load_pairs,
    pair_counts,
    partition,
    quote_sets,
    score,
)
from indexer.clean import clean_pages
from indexer.sources import load_file

SEEDS = Path("seeds")


def pair(a: str, b: str, same: bool) -> ViewpointPair:
    return ViewpointPair("q", "dev", QuoteRef("s", a), QuoteRef("s", b), same, "")


def test_pair_counts_count_true_false_and_missed_same_pairs() -> None:
    gold = [0, 0, 0, 1]
    predicted = [0, 0, 1, 1]
    assert pair_counts(gold, predicted) == (1, 1, 2)


def test_adjusted_rand_is_one_for_the_same_partition_and_agrees_with_sklearn() -> None:
    assert adjusted_rand([0, 0, 1, 2], [5, 5, 7, 9]) == 1.0
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    for _ in range(20):
        gold, predicted = rng.integers(0, 4, 12).tolist(), rng.integers(0, 5, 12).tolist()
        expected = metrics.adjusted_rand_score(gold, predicted)
        assert adjusted_rand(gold, predicted) == pytest.approx(expected)


def test_score_is_micro_f1_over_all_pairs() -> None:
    result = score("m", "fused", "dev", [([0, 0, 1], [0, 0, 1]), ([0, 0], [0, 1])])
    assert (result.precision, result.recall) == (1.0, 0.5)
    assert result.f1 == pytest.approx(2 / 3)


def test_components_and_the_partition_read_back_from_same_pairs() -> None:
    assert components(5, [(0, 3), (3, 4)]) == (0, 1, 2, 0, 0)
    quotes = [QuoteRef("s", t) for t in "abc"]
    pairs = [pair("a", "b", True), pair("a", "c", False), pair("b", "c", False)]
    assert partition(quotes, pairs) == (0, 0, 1)


def test_a_partition_that_is_not_transitive_is_refused() -> None:
    quotes = [QuoteRef("s", t) for t in "abc"]
    pairs = [pair("a", "b", True), pair("b", "c", True), pair("a", "c", False)]
    with pytest.raises(ValueError, match="transitive"):
        partition(quotes, pairs)


def test_the_annotated_pairs_cover_every_pair_of_both_splits_with_verbatim_quotes() -> None:
    pairs = load_pairs(DEFAULT_PAIRS)
    sets = quote_sets(pairs)  # raises if any question's «same» pairs are not transitive
    assert Counter(qs.split for qs in sets) == {"dev": 8, "test": 12}
    per_question = Counter(p.question for p in pairs)
    assert all(
        per_question[qs.question] == len(qs.quotes) * (len(qs.quotes) - 1) // 2 for qs in sets
    )
    assert {p.same for p in pairs} == {True, False}
    texts = {path.name: clean_pages(load_file(path).pages)[0].text for path in SEEDS.glob("*.txt")}
    assert all(q.quote in texts[q.source] for qs in sets for q in qs.quotes)
