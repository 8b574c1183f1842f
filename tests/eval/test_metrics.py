"""The metric functions on small hand-made rankings whose values are worked out by hand."""

from __future__ import annotations

import math

import pytest

from eval.gold import LocatedGold, Span
from eval.metrics import (
    Passage,
    citation_is_exact,
    confidence_share,
    first_hit_rank,
    gold_hit_sets,
    hits_gold,
    mean,
    ndcg_at_k,
    novelty_gains,
    percentile,
    quote_hit,
    rate,
    recall_at_k,
    reciprocal_rank,
    shares_run_of_words,
    submitter_coverage,
    submitter_precision,
)

NONE: frozenset[int] = frozenset()


def gold(start: int, end: int, document_id: str = "doc") -> LocatedGold:
    return LocatedGold("doc.txt", "x" * (end - start), document_id, Span(start, end), "whitespace")


def unlocated(quote: str) -> LocatedGold:
    return LocatedGold("doc.txt", quote, None, None, "unlocated")


# --- does a passage hit a gold quote? ---------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 200, True),  # contains the quote
        (120, 130, True),  # inside the quote
        (50, 101, True),  # overlaps the quote's first character
        (149, 300, True),  # overlaps its last character
        (50, 100, False),  # ends just before the quote (end offsets are exclusive)
        (150, 300, False),  # starts just after it
    ],
)
def test_passage_hits_a_located_quote_when_spans_overlap(
    start: int, end: int, expected: bool
) -> None:
    assert hits_gold(Passage("doc", start, end, "text"), gold(100, 150)) is expected


def test_same_offsets_in_another_document_do_not_hit() -> None:
    assert not hits_gold(Passage("other", 100, 150, ""), gold(100, 150))


def test_unlocated_quote_hits_a_passage_sharing_eight_consecutive_words() -> None:
    quote = "en to tre fire fem seks sju åtte ni ti"
    eight = "Innledning. To tre fire fem seks sju åtte ni, og så videre."
    seven = "Innledning: tre fire fem seks sju åtte ni. Slutt."
    assert hits_gold(Passage("any", 0, 10, eight), unlocated(quote))
    assert not hits_gold(Passage("any", 0, 10, seven), unlocated(quote))


def test_run_of_words_needs_the_words_in_order_and_whole() -> None:
    quote = "a b c d e f g h"
    assert shares_run_of_words(quote, "x a b c d e f g h y")
    assert not shares_run_of_words(quote, "a b c d e f h g")
    assert not shares_run_of_words(quote, "xa b c d e f g h")  # "xa" is not "a"
    assert shares_run_of_words("kort sitat", "Et kort sitat her.")  # shorter than 8: all words
    assert not shares_run_of_words("", "anything")


def test_hit_sets_list_each_passages_gold_indices() -> None:
    golds = [gold(0, 10), gold(20, 30), gold(0, 10, "other")]
    passages = [Passage("doc", 5, 25, ""), Passage("x", 0, 99, ""), Passage("other", 9, 12, "")]
    assert gold_hit_sets(passages, golds) == [frozenset({0, 1}), NONE, frozenset({2})]


# --- ranking metrics ---------------------------------------------------------------------------

# Three gold quotes. Rank 1 misses, rank 2 hits quote 0, rank 3 hits 0 again, rank 4 hits 1 and 2.
RANKING = [NONE, frozenset({0}), frozenset({0}), frozenset({1, 2}), NONE]


def test_recall_at_k_counts_distinct_gold_quotes_found() -> None:
    assert recall_at_k(RANKING, 3, 1) == 0.0
    assert recall_at_k(RANKING, 3, 3) == pytest.approx(1 / 3)
    assert recall_at_k(RANKING, 3, 4) == 1.0
    assert recall_at_k(RANKING, 3, 10) == 1.0
    assert recall_at_k([], 3, 10) == 0.0


def test_recall_needs_gold() -> None:
    with pytest.raises(ValueError, match="without gold"):
        recall_at_k(RANKING, 0, 10)


def test_reciprocal_rank_is_one_over_the_first_hit_within_k() -> None:
    assert reciprocal_rank(RANKING, 10) == 0.5
    assert reciprocal_rank(RANKING, 1) == 0.0
    assert reciprocal_rank([frozenset({0})], 10) == 1.0
    assert reciprocal_rank([NONE] * 10 + [frozenset({0})], 10) == 0.0
    assert first_hit_rank(RANKING) == 2
    assert first_hit_rank([NONE]) is None


def test_gains_count_a_passage_only_for_new_gold() -> None:
    assert novelty_gains(RANKING) == [0, 1, 0, 1, 0]


def test_ndcg_by_hand() -> None:
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # three gold quotes: three ideal ones
    assert ndcg_at_k(RANKING, 3, 10) == pytest.approx(dcg / ideal)


def test_ndcg_is_one_for_a_perfect_ranking_and_zero_without_hits() -> None:
    assert ndcg_at_k([frozenset({0}), frozenset({1})], 2, 10) == pytest.approx(1.0)
    assert ndcg_at_k([NONE, NONE], 2, 10) == 0.0


def test_ndcg_ideal_is_capped_at_k() -> None:
    perfect_top_two = [frozenset({0}), frozenset({1})]
    assert ndcg_at_k(perfect_top_two, 30, 2) == pytest.approx(1.0)
    assert ndcg_at_k(perfect_top_two, 30, 10) < 1.0


# --- answers -----------------------------------------------------------------------------------


def test_submitter_coverage_and_precision() -> None:
    gold_set = {"Moss", "Bergen", "Stange"}
    assert submitter_coverage({"Moss", "Bergen", "Ahus"}, gold_set) == pytest.approx(2 / 3)
    assert submitter_precision({"Moss", "Bergen", "Ahus", "Volda"}, gold_set) == 0.5
    assert submitter_coverage(set(), gold_set) == 0.0
    assert submitter_precision(set(), gold_set) is None  # nothing cited: undefined, not 0 or 1
    assert submitter_coverage({"Moss"}, set()) is None


def test_citation_is_exact_only_when_quote_equals_the_text_slice() -> None:
    text = "Første setning. Andre setning."
    assert citation_is_exact("Andre setning.", text, 16, 30)
    assert not citation_is_exact("Andre setning", text, 16, 30)
    assert not citation_is_exact("Andre setning.", text, 15, 29)
    assert not citation_is_exact("", text, 0, 0)
    assert not citation_is_exact("x", text, 29, 31)  # past the end


# --- averages and latency ----------------------------------------------------------------------


def test_mean_and_rate_skip_undefined_values() -> None:
    assert mean([1.0, None, 0.0]) == 0.5
    assert mean([None]) is None
    assert rate([True, False, False, True]) == 0.5
    assert rate([]) is None


def test_percentile_interpolates_between_ranks() -> None:
    values = [40.0, 10.0, 30.0, 20.0]
    assert percentile(values, 50) == 25.0
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile(values, 95) == pytest.approx(38.5)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile(values, 101)


# --- answers: quote hits and confidence -------------------------------------------------------


def test_quote_hit_needs_one_citation_overlapping_one_gold_span() -> None:
    golds = [gold(100, 150), gold(400, 450)]
    touching = Passage("doc", 149, 160, "")  # one character inside the first gold span
    adjacent = Passage("doc", 150, 160, "")  # starts where the gold span ends: nothing shared
    elsewhere = Passage("other", 100, 150, "")  # same offsets, another document
    assert quote_hit([adjacent, touching], golds)
    assert quote_hit([Passage("doc", 390, 401, "")], golds)
    assert not quote_hit([adjacent, elsewhere], golds)
    assert not quote_hit([], golds)  # a refusal cites nothing
    assert not quote_hit([touching], [])  # nothing to hit


def test_confidence_share_counts_only_answers_that_report_one() -> None:
    reported = ["high", "low", None, "low", "none"]
    assert confidence_share(reported, "low") == 0.5  # 2 of the 4 that report a level
    assert confidence_share(reported, "high") == 0.25
    assert confidence_share([None, None], "low") is None  # an API without the field
    assert confidence_share([], "high") is None


def test_a_passage_holding_the_repeat_of_a_quote_hits_it() -> None:
    repeated = LocatedGold(
        "doc.txt", "x" * 10, "doc", Span(100, 110), "whitespace", (Span(500, 510),)
    )
    assert hits_gold(Passage("doc", 495, 520, "text"), repeated)
    assert not hits_gold(Passage("doc", 200, 300, "text"), repeated)
    assert not hits_gold(Passage("other", 495, 520, "text"), repeated)
