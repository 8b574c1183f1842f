"""The embedding cache embeds only new texts, shortest first, and returns rows in input order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import FakeEmbedder

from rag.embed_cache import EmbeddingCache, embed_with_cache


def test_new_texts_are_embedded_in_batches_of_similar_length(tmp_path: Path) -> None:
    texts = ["a " * 40, "b", "c " * 20, "d " * 2, "b", "e " * 30]
    embedder = FakeEmbedder()
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    vectors, new = embed_with_cache(embedder, texts, cache, batch_size=2)
    assert new == 5  # "b" once
    assert [len(t) for call in embedder.calls for t in call] == sorted(len(t) for t in set(texts))
    np.testing.assert_array_equal(vectors, FakeEmbedder().embed_passages(texts))
    again, new = embed_with_cache(embedder, texts[::-1], cache, batch_size=2)
    assert new == 0 and len(embedder.calls) == 3
    np.testing.assert_array_equal(again, vectors[::-1])
