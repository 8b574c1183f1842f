"""Pure metric functions. No I/O, no model: ranked passages and gold spans in, numbers out.

Definitions (k counts passages, ranks start at 1):

- A passage *hits* a gold quote when both lie in the same document and their character spans
  overlap (any place the quote's text occurs: a paragraph a submission repeats is the same
  quote wherever it stands); for a quote that could not be located in the stored text, when at least
  `MIN_SHARED_WORDS` consecutive words of the quote occur in the passage.
- Recall@k: the fraction of the question's gold quotes hit by any of the top k passages.
- MRR@k: 1 / rank of the first passage that hits any gold quote (0 when none in the top k).
- nDCG@k with binary gains: a passage gains 1 when it hits at least one gold quote that no
  higher passage hit; the ideal ranking is min(#gold, k) ones.
- Quote hit: some citation of an answer hits some gold quote of its question (the same overlap
  rule as for passages: same document, overlapping character spans).
- Confidence share: of the answers that report a confidence ("high" | "low" | "none"), the share
  at one level; undefined when no answer reports one (an API without the field).
Averages over questions are taken by the caller (`mean`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass

from eval.gold import LocatedGold

MIN_SHARED_WORDS = 8
_WORD = re.compile(r"\w+")

HitSets = Sequence[frozenset[int]]


@dataclass(frozen=True)
class Passage:
    """A span of a stored document: a retrieved chunk or a cited quote."""

    document_id: str
    start: int
    end: int
    text: str


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def shares_run_of_words(quote: str, text: str, n: int = MIN_SHARED_WORDS) -> bool:
    """Some n consecutive words of `quote` occur consecutively in `text` (all of them if the
    quote is shorter); case and punctuation are ignored."""
    needle, haystack = words(quote), words(text)
    run = min(n, len(needle))
    if run == 0:
        return False
    padded = f" {' '.join(haystack)} "
    return any(f" {' '.join(needle[i : i + run])} " in padded for i in range(len(needle) - run + 1))


def spans_overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def hits_gold(passage: Passage, gold: LocatedGold) -> bool:
    if gold.span is None:
        return shares_run_of_words(gold.quote, passage.text)
    return passage.document_id == gold.document_id and any(
        spans_overlap(passage.start, passage.end, s.start, s.end) for s in gold.spans
    )


def gold_hit_sets(
    passages: Sequence[Passage], golds: Sequence[LocatedGold]
) -> list[frozenset[int]]:
    """For each passage (in rank order), the indices of the gold quotes it hits."""
    return [frozenset(i for i, g in enumerate(golds) if hits_gold(p, g)) for p in passages]


def recall_at_k(hit_sets: HitSets, n_gold: int, k: int) -> float:
    if n_gold == 0:
        raise ValueError("recall is undefined for a question without gold quotes")
    found = frozenset().union(*hit_sets[:k]) if hit_sets[:k] else frozenset()
    return len(found) / n_gold


def reciprocal_rank(hit_sets: HitSets, k: int = 10) -> float:
    for rank, hit in enumerate(hit_sets[:k], start=1):
        if hit:
            return 1.0 / rank
    return 0.0


def first_hit_rank(hit_sets: HitSets) -> int | None:
    return next((rank for rank, hit in enumerate(hit_sets, start=1) if hit), None)


def novelty_gains(hit_sets: HitSets) -> list[int]:
    """1 where a passage hits a gold quote no higher passage hit, else 0."""
    seen: set[int] = set()
    gains = []
    for hit in hit_sets:
        gains.append(1 if hit - seen else 0)
        seen |= hit
    return gains


def dcg(gains: Sequence[int]) -> float:
    return sum(g / math.log2(rank + 1) for rank, g in enumerate(gains, start=1))


def ndcg_at_k(hit_sets: HitSets, n_gold: int, k: int = 10) -> float:
    if n_gold == 0:
        raise ValueError("nDCG is undefined for a question without gold quotes")
    ideal = dcg([1] * min(n_gold, k))
    return dcg(novelty_gains(hit_sets[:k])) / ideal


def quote_hit(citations: Sequence[Passage], golds: Sequence[LocatedGold]) -> bool:
    """Some citation overlaps some gold quote of the question."""
    return any(hits_gold(c, g) for c in citations for g in golds)


def confidence_share(confidences: Iterable[str | None], level: str) -> float | None:
    """Share of the reported confidences equal to `level`; None when none was reported."""
    return rate(c == level for c in confidences if c is not None)


def submitter_coverage(cited: Set[str], gold: Set[str]) -> float | None:
    """Share of the gold submitters that are cited; None without gold submitters."""
    return len(cited & gold) / len(gold) if gold else None


def submitter_precision(cited: Set[str], gold: Set[str]) -> float | None:
    """Share of the cited submitters that are gold; None when nothing is cited."""
    return len(cited & gold) / len(cited) if cited else None


def citation_is_exact(quote: str, document_text: str, start: int, end: int) -> bool:
    return (
        bool(quote)
        and 0 <= start < end <= len(document_text)
        and (document_text[start:end] == quote)
    )


def mean(values: Iterable[float | None]) -> float | None:
    """The mean of the values that are defined; None when none is."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def rate(flags: Iterable[bool]) -> float | None:
    """Share of True; None for no flags."""
    return mean(1.0 if f else 0.0 for f in flags)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), interpolating linearly between the closest ranks."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
