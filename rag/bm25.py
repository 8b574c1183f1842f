"""Norwegian BM25: Snowball Norwegian stemming and stopwords over bm25s sparse matrices."""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_NORWEGIAN
from numpy.typing import NDArray

_WORD = re.compile(r"\w\w+", re.UNICODE)
MIN_HEAD = 7
_STOPWORDS = frozenset(STOPWORDS_NORWEGIAN)
# How analysts ask, not what they ask about: dropped from questions, kept in documents.
QUESTION_WORDS = frozenset(
    [
        "sier",
        "si",
        "mener",
        "mene",
        "skriver",
        "beskriver",
        "beskrive",
        "omtaler",
        "omtale",
        "nevner",
        "nevnes",
        "foreslår",
        "tenker",
        "synes",
        "står",
        "gjelder",
        "innspill",
        "innspillet",
        "innspillene",
        "høringsinnspill",
        "høringsinnspillene",
        "høringsinnspillet",
        "noe",
        "noen",
        "ifølge",
        "heter",
        "finnes",
    ]
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("norwegian")


def content_words(text: str, query: bool = False) -> list[str]:
    """Lower-cased words without stopwords (and, for questions, without question phrasing)."""
    dropped = _STOPWORDS | QUESTION_WORDS if query else _STOPWORDS
    return [w for w in _WORD.findall(text.lower()) if w not in dropped]


def stem_words(words: Sequence[str]) -> list[str]:
    return list(_stemmer().stemWords(list(words)))


def tokenize(text: str) -> list[str]:
    """Lower-cased word stems, Norwegian stopwords removed."""
    return stem_words(content_words(text))


class Bm25Index:
    """A BM25 index over chunk texts; row i is chunk i of the store."""

    def __init__(self, model: bm25s.BM25) -> None:
        self._model = model
        self._vocab: dict[str, int] = dict(model.vocab_dict)
        self._sorted_vocab = sorted(self._vocab)

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

    def in_corpus(self, stem: str) -> bool:
        """The stem, a longer word starting with it, or a 7+ letter head of it is in the corpus
        («fastlegeordning» finds «fastlegeordningene», «helsefellesskapsmøte» «helsefellesskap»)."""
        if stem in self._vocab:
            return True
        i = bisect_left(self._sorted_vocab, stem)
        if i < len(self._sorted_vocab) and self._sorted_vocab[i].startswith(stem):
            return True
        return any(stem[:n] in self._vocab for n in range(MIN_HEAD, len(stem)))

    def idf(self, stems: Iterable[str]) -> dict[str, float]:
        """Inverse document frequency (BM25's) of each stem; 0 for stems not in the corpus."""
        indptr = self._model.scores["indptr"]
        n = float(self._model.scores["num_docs"])
        weights = {}
        for stem in stems:
            column = self._vocab.get(stem)
            df = float(indptr[column + 1] - indptr[column]) if column is not None else 0.0
            weights[stem] = math.log(1 + (n - df + 0.5) / (df + 0.5)) if df else 0.0
        return weights

    def scores(self, stems: Sequence[str]) -> NDArray[np.float32]:
        """BM25 score of every row for a question's stems (zeros when none is in the corpus)."""
        tokens = [t for t in stems if t in self._vocab]
        if not tokens:
            return np.zeros(self._model.scores["num_docs"], dtype=np.float32)
        return np.asarray(self._model.get_scores(tokens), dtype=np.float32)
