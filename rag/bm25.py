"""Norwegian BM25: Snowball Norwegian stemming and stopwords over bm25s sparse matrices."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_NORWEGIAN
from numpy.typing import NDArray

_WORD = re.compile(r"\w\w+", re.UNICODE)
_STOPWORDS = frozenset(STOPWORDS_NORWEGIAN)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("norwegian")


def tokenize(text: str) -> list[str]:
    """Lower-cased word stems, Norwegian stopwords removed."""
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]
    return list(_stemmer().stemWords(words))


class Bm25Index:
    """A BM25 index over chunk texts; row i is chunk i of the store."""

    def __init__(self, model: bm25s.BM25) -> None:
        self._model = model
        self._vocab: dict[str, int] = dict(model.vocab_dict)

    @classmethod
    def build(cls, texts: Sequence[str]) -> Bm25Index:
        model = bm25s.BM25()
        corpus_tokens = [tokenize(t) or ["\u2205"] for t in texts]  # bm25s rejects empty rows
        model.index(corpus_tokens, show_progress=False)
        return cls(model)

    def save(self, directory: Path) -> None:
        self._model.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path) -> Bm25Index:
        return cls(bm25s.BM25.load(str(directory), mmap=False))

    def scores(self, query: str) -> NDArray[np.float32]:
        """BM25 score of every row for `query` (zeros when no query word is in the corpus)."""
        tokens = [t for t in tokenize(query) if t in self._vocab]
        if not tokens:
            return np.zeros(self._model.scores["num_docs"], dtype=np.float32)
        return np.asarray(self._model.get_scores(tokens), dtype=np.float32)
