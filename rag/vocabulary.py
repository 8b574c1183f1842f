"""The corpus's vocabulary, a vector per word: how well the corpus knows a question's words.

A question on a topic the submissions never discuss names things they never mention («astma»,
«fengslene», «abort»), yet its closest sentences can be as close as a real question's: the
embedding space is crowded, and sentence similarity alone does not tell the two apart. Which
words the corpus knows does. Each content word of a question counts 1 when the corpus uses it
(its stem, `Bm25Index.in_corpus`), else the cosine of the corpus word closest to it in meaning
(«nybakte» finds «nyfødt», «tannlegeregningen» only «tannhelse»); the question's coverage is
the mean. A paraphrase in the user's own words keeps a high coverage through the meaning of its
words, so this is not the word-coverage rule that refused them. Files in a build:

    vocabulary.json          the corpus's distinct content words, sorted
    vocabulary_vectors.npy   float32, one L2-normalised row per word (embedded as a passage)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from rag.bm25 import content_words
from rag.types import Document

VOCABULARY = "vocabulary.json"
VOCABULARY_VECTORS = "vocabulary_vectors.npy"


def is_word(token: str) -> bool:
    """A token that names something: numbers, years and codes («2016», «lis1») are not words."""
    return not any(c.isdigit() for c in token)


def corpus_words(documents: Iterable[Document]) -> tuple[str, ...]:
    """The distinct content words (no stopwords, no numbers) of the documents, sorted."""
    return tuple(sorted({w for d in documents for w in content_words(d.text) if is_word(w)}))


def coverage(asked: int, closest: NDArray[np.float32]) -> float:
    """The share of a question's `asked` content words the corpus knows, where each of the
    unknown ones counts the cosine of its closest corpus word (`closest`); 1 for no words."""
    if asked == 0:
        return 1.0
    return (asked - len(closest) + float(np.sum(closest, dtype=np.float64))) / asked


@dataclass(frozen=True)
class Vocabulary:
    words: tuple[str, ...]
    vectors: NDArray[np.float32]  # one L2-normalised row per word

    def closest(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """Per row of `vectors`, the cosine of the corpus word closest to it (0: no words)."""
        if not self.words or not len(vectors):
            return np.zeros(len(vectors), dtype=np.float32)
        found: NDArray[np.float32] = (vectors @ self.vectors.T).max(axis=1)
        return found


def write_vocabulary(folder: Path, vocabulary: Vocabulary) -> None:
    text = json.dumps(list(vocabulary.words), ensure_ascii=False)
    (folder / VOCABULARY).write_text(text, encoding="utf-8")
    np.save(folder / VOCABULARY_VECTORS, np.ascontiguousarray(vocabulary.vectors, np.float32))


def read_vocabulary(folder: Path) -> Vocabulary:
    words = json.loads((folder / VOCABULARY).read_text(encoding="utf-8"))
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ValueError(f"{VOCABULARY} is not a list of words")
    vectors = np.load(folder / VOCABULARY_VECTORS, allow_pickle=False)
    if vectors.dtype != np.float32 or vectors.ndim != 2 or len(vectors) != len(words):
        raise ValueError(
            f"{VOCABULARY_VECTORS} holds {vectors.shape} {vectors.dtype}, "
            f"expected {len(words)} float32 rows"
        )
    return Vocabulary(tuple(words), vectors)
