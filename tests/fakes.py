"""Test doubles shared by the test packages."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from rag.config import ApiSettings, IndexSettings, Settings
from rag.embed import Embedder, Vectors, normalise_rows
from rag.policy import (
    Fusion,
    Policy,
    PolicyFile,
    Support,
    Thresholds,
    policy_path,
    subset_key,
    write_policy,
)
from rag.store import read_manifest

_WORD = re.compile(r"\w+")

# The policy for the FakeEmbedder's bag-of-words cosines (the real model's are far higher): on
# the submissions of tests/rag/conftest.py its thresholds give high, low and no answers.
# Sentences alone in /ask: the bag-of-words cosines of whole chunks are too coarse to add as
# context (the real model's context_mix is checked against a brute-force reference and on the
# seeds). For the same reason support is the best sentence's cosine alone: no typicality, one
# sentence (the real model's support is checked on hand-made vectors and on the seeds), and
# the vocabulary does not count: a hashed word means nothing (tests/rag/test_vocabulary.py).
FAKE_THRESHOLDS = Thresholds(
    low_confidence=0.45,
    high_confidence=0.55,
    submitter_threshold=0.45,
    specific_gap=0.05,
    corpus_gap=1.0,
)


def fake_policy(identities: Sequence[str]) -> Policy:
    """The fake embedder's policy for an index built by these encoders (all weighed alike)."""
    equal = {identity: 1.0 / len(identities) for identity in identities}
    return Policy(
        weights=equal,
        support_weights=equal,
        fusion=Fusion(sentence_weight=3.0, dense_weight=1.0, bm25_weight=0.0, chunk_mix=1.0),
        context_mix=0.0,
        support=Support(typicality_weight=0.0, support_sentences=1, vocabulary_weight=0.0),
        thresholds=FAKE_THRESHOLDS,
    )


def write_fake_policy(index: Path, policy: Policy | None = None) -> Policy:
    """`policy` (the fake embedder's by default) written beside the index at `index`, as
    `rag eval --calibrate --write` writes one: the service built on it then uses it."""
    manifest = read_manifest(index)
    identities = tuple(e.identity for e in manifest.encoders)
    chosen = policy or fake_policy(identities)
    written = PolicyFile(
        encoders=identities,
        fingerprint=manifest.fingerprint,
        calibrated_on="tests",
        policies={subset_key(identities): chosen},
    )
    write_policy(policy_path(index), written)
    return chosen


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


def brute_typicality(vectors: np.ndarray, neighbours: int = 5) -> np.ndarray:
    """The definition of typicality computed over all pairs, as a reference for tests: each
    row's mean cosine to its `neighbours` closest other rows, rows of the same wording (cosine
    0.999 or more, the row itself too) not counted; a missing neighbour counts -1."""
    count = len(vectors)
    result = np.zeros(count, dtype=np.float32)
    if count < 2:
        return result
    k = min(neighbours, count - 1)
    cosines = vectors @ vectors.T
    cosines[cosines >= 0.999] = -1.0
    closest = np.sort(cosines, axis=1)[:, count - k :]
    result[:] = closest.mean(axis=1)
    return result


def fake_settings(folder: Path, **api: object) -> Settings:
    """Settings with the index and its cache in `folder` and these API settings."""
    index = IndexSettings(path=folder / "index", cache_dir=folder / "cache")
    return Settings(index=index, api=ApiSettings(**api))  # type: ignore[arg-type]


def fake_corpus(folder: Path, texts: Mapping[str, str]) -> Path:
    """`texts` written as sources in `folder`, indexed there with the fake embedder under a
    fake policy (`fake_settings(folder)`); returns `folder`."""
    from indexer.build import build_index

    sources = folder / "innspill"
    sources.mkdir()
    for name, text in texts.items():
        (sources / name).write_text(text, encoding="utf-8")
    settings = fake_settings(folder)
    build_index([sources], settings.index.path, settings, FakeEmbedder)
    write_fake_policy(settings.index.path)
    return folder
