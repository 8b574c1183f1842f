"""Lexical matching of a question's content words against passages and sentences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

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


@dataclass(frozen=True)
class WordSet:
    """The stems and the 6-letter prefixes of a text's content words: what `hits` looks a
    question's word up in, in constant time (a passage's set is made once and kept)."""

    stems: frozenset[str]
    prefixes: frozenset[str]

    @classmethod
    def of(cls, terms: Sequence[Term]) -> WordSet:
        prefixes = (t.word[:SHARED_PREFIX] for t in terms if len(t.word) >= SHARED_PREFIX)
        return cls(frozenset(t.stem for t in terms), frozenset(prefixes))


def hits(term: Term, texts: Sequence[WordSet]) -> list[bool]:
    """Per text, whether it has the term: its stem, or its first 6 letters as another word's
    first 6 letters (one comprehension for many texts: a question meets thousands)."""
    stem, prefix = term.stem, term.word[:SHARED_PREFIX]
    if len(prefix) < SHARED_PREFIX:
        return [stem in t.stems for t in texts]
    return [stem in t.stems or prefix in t.prefixes for t in texts]


def matches(term: Term, others: Sequence[Term]) -> bool:
    return hits(term, [WordSet.of(others)])[0]


def weighted_overlap(question: Sequence[Term], weights: Mapping[str, float], text: str) -> float:
    """IDF-weighted share of the question's content words that `text` contains."""
    return float(overlaps(question, weights, [WordSet.of(content_terms(text))])[0])


def overlaps(
    question: Sequence[Term], weights: Mapping[str, float], texts: Sequence[WordSet]
) -> NDArray[np.float64]:
    """`weighted_overlap` of each of many texts, a question word at a time."""
    total = sum(weights.get(t.stem, 0.0) for t in question)
    found = np.zeros(len(texts))
    if total <= 0:
        return found
    for term in question:
        weight = weights.get(term.stem, 0.0)
        if weight:
            found += weight * np.array(hits(term, texts), dtype=bool)
    return found / total
