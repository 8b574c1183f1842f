"""Test doubles shared by the test packages."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from rag.config import AnswerSettings, RetrievalSettings
from rag.embed import Embedder, Vectors, normalise_rows

_WORD = re.compile(r"\w+")

# Answer thresholds for the FakeEmbedder's bag-of-words cosines (the real model's are far
# higher): on the submissions of tests/rag/conftest.py they give high, low and no answers.
# Sentences alone in /ask: the bag-of-words cosines of whole chunks are too coarse to add as
# context (the real model's context_mix is checked against a brute-force reference and on the
# seeds). For the same reason support is the best sentence's cosine alone: no typicality, one
# sentence (the real model's support is checked on hand-made vectors and on the seeds), and
# the vocabulary does not count: a hashed word means nothing (tests/rag/test_vocabulary.py).
FAKE_RETRIEVAL = RetrievalSettings(
    context_mix=0.0, typicality_weight=0.0, support_sentences=1, vocabulary_weight=0.0
)
FAKE_THRESHOLDS = AnswerSettings(
    low_confidence=0.45,
    high_confidence=0.55,
    submitter_threshold=0.45,
    specific_gap=0.05,
    corpus_gap=1.0,
)


class FakeEmbedder(Embedder):
    """Deterministic bag-of-words vectors: each word hashed into one of `dimension` buckets.

    Texts that share words get similar vectors, so ranking tests still mean something. Every
    call is recorded in `calls` (one list of texts per call) for tests about what got embedded.
    """

    backend = "fake"

    def __init__(self, dimension: int = 64, name: str = "hashed-words") -> None:
        self.dimension = dimension
        self.model_name = f"{name}-{dimension}"
        self.calls: list[list[str]] = []

    @property
    def embedded_texts(self) -> list[str]:
        return [text for call in self.calls for text in call]

    def vector(self, text: str) -> Vectors:
        counts = np.zeros(self.dimension, dtype=np.float32)
        counts[0] = 0.01  # never the zero vector, even for a text without words
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            counts[int.from_bytes(digest, "little") % self.dimension] += 1.0
        return counts

    def _embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        return normalise_rows(np.stack([self.vector(t) for t in texts]))

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts)
