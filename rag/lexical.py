"""Lexical matching of a question's content words against passages and sentences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.bm25 import content_words, stem_words

SHARED_PREFIX = 6


@dataclass(frozen=True)
class Term:
    """A content word and its stem; words match on the stem or a shared 6-letter prefix,
    which also catches compounds the stemmer cuts short («fastlegene» -> «fast»)."""

    word: str
    stem: str


def content_terms(text: str, query: bool = False) -> list[Term]:
    words = content_words(text, query)
    return [Term(w, s) for w, s in zip(words, stem_words(words), strict=True)]


def matches(term: Term, others: Sequence[Term]) -> bool:
    prefix = term.word[:SHARED_PREFIX]
    return any(
        o.stem == term.stem or (len(prefix) == SHARED_PREFIX and o.word.startswith(prefix))
        for o in others
    )


def weighted_overlap(question: Sequence[Term], weights: Mapping[str, float], text: str) -> float:
    """IDF-weighted share of the question's content words that `text` contains."""
    return overlap_with(question, weights, content_terms(text))


def overlap_with(
    question: Sequence[Term], weights: Mapping[str, float], words: Sequence[Term]
) -> float:
    """IDF-weighted share of the question's content words among `words`."""
    total = sum(weights.get(t.stem, 0.0) for t in question)
    if total <= 0:
        return 0.0
    return sum(weights.get(t.stem, 0.0) for t in question if matches(t, words)) / total
