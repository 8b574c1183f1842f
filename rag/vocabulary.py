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
    vocabulary_vectors.faiss the vector index of the words (`rag.vector_index`), one row per word
                             (embedded as a passage by the first encoder), its spec beside it
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
from rag.vector_index import FaissIndex, build, choose_spec, load

VOCABULARY = "vocabulary.json"
VOCABULARY_VECTORS = "vocabulary_vectors.faiss"


def is_word(token: str) -> bool:
    """A token that names something: numbers, years and codes («2016», «lis1») are not words."""
    return not any(c.isdigit() for c in token)


def corpus_words(documents: Iterable[Document]) -> tuple[str, ...]:
    """The distinct content words (no stopwords, no numbers) of the documents, sorted."""
    distinct = {w for d in documents for w in content_words(d.text)}
    return tuple(sorted(w for w in distinct if is_word(w)))


def coverage(asked: int, closest: NDArray[np.float32]) -> float:
    """The share of a question's `asked` content words the corpus knows, where each of the
    unknown ones counts the cosine of its closest corpus word (`closest`); 1 for no words."""
    if asked == 0:
        return 1.0
    return (asked - len(closest) + float(np.sum(closest, dtype=np.float64))) / asked


@dataclass(frozen=True)
class Vocabulary:
    words: tuple[str, ...]
    index: FaissIndex  # one row per word, in the first encoder's space

    @classmethod
    def built(cls, words: tuple[str, ...], vectors: NDArray[np.float32]) -> Vocabulary:
        """The vocabulary of `words` with their vectors in the index their number calls for."""
        return cls(words, build(vectors, choose_spec(len(vectors), vectors.shape[1])))

    @property
    def dimension(self) -> int:
        return self.index.dimension

    def closest(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """Per row of `vectors`, the cosine of the corpus word closest to it (0: no words)."""
        if not self.words or not len(vectors):
            return np.zeros(len(vectors), dtype=np.float32)
        scores, _ = self.index.search(vectors, 1)
        found: NDArray[np.float32] = np.maximum(scores[:, 0], 0.0).astype(np.float32)
        return found


def write_vocabulary(folder: Path, vocabulary: Vocabulary) -> None:
    text = json.dumps(list(vocabulary.words), ensure_ascii=False)
    (folder / VOCABULARY).write_text(text, encoding="utf-8")
    vocabulary.index.save(folder / VOCABULARY_VECTORS)


def read_vocabulary(folder: Path) -> Vocabulary:
    words = json.loads((folder / VOCABULARY).read_text(encoding="utf-8"))
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ValueError(f"{VOCABULARY} is not a list of words")
    index = load(folder / VOCABULARY_VECTORS)
    if index.size != len(words):
        raise ValueError(f"{VOCABULARY_VECTORS} holds {index.size} rows, expected {len(words)}")
    return Vocabulary(tuple(words), index)
