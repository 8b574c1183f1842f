"""A disk cache of passage embeddings keyed by the embedder's identity and the text's hash."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rag.embed import Embedder, Vectors

ProgressCallback = Callable[[int, int], None]  # (embedded so far, to embed)


def cache_key(identity: str, text: str) -> str:
    return hashlib.sha256(f"{identity}\x00{text}".encode()).hexdigest()


class EmbeddingCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")

    def get(self, keys: Sequence[str]) -> dict[str, Vectors]:
        found: dict[str, Vectors] = {}
        for start in range(0, len(keys), 500):
            batch = list(keys[start : start + 500])
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch
            )
            found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        return found

    def put(self, keys: Sequence[str], vectors: Vectors) -> None:
        rows = [
            (k, np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for k, v in zip(keys, vectors, strict=True)
        ]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)

    def close(self) -> None:
        self._db.close()


def embed_with_cache(
    embedder: Embedder,
    texts: Sequence[str],
    cache: EmbeddingCache,
    batch_size: int,
    on_progress: ProgressCallback | None = None,
) -> tuple[Vectors, int]:
    """Vectors for `texts` in order; only uncached texts are embedded. Returns (vectors, new)."""
    keys = [cache_key(embedder.identity, t) for t in texts]
    text_of = dict(zip(keys, texts, strict=True))
    known = cache.get(keys)
    # similar lengths together, so each batch pads little (the engine sorts within a batch)
    missing = sorted(
        (k for k in dict.fromkeys(keys) if k not in known), key=lambda k: len(text_of[k])
    )
    for start in range(0, len(missing), batch_size):
        batch = missing[start : start + batch_size]
        vectors = embedder.embed_passages([text_of[k] for k in batch])
        cache.put(batch, vectors)
        known.update(zip(batch, vectors, strict=True))
        if on_progress:
            on_progress(start + len(batch), len(missing))
    if not keys:
        return np.empty((0, embedder.dimension), dtype=np.float32), 0
    return np.stack([known[k] for k in keys]).astype(np.float32), len(missing)
