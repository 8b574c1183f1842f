"""Embed concurrent questions through one caller at a time.

The server embeds each new question before it can search. Questions from several clients that
each called the engine at once would fight over the two cores (every ONNX Runtime call spreads
over all of them); this wrapper collects them instead: the first caller to find the queue empty
leads, waits `window_s` for company, then takes whatever is queued (while the engine is busy the
queue keeps filling) and hands it to the engine in one call. The others wait for their rows. The
engine still runs one forward pass per question (`BundledE5Embedder.embed_queries`), so a
question's vector does not depend on who else asked. Passages are passed straight through:
indexing batches them itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.embed import Embedder, Vectors


@dataclass
class _Request:
    texts: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    vectors: Vectors | None = None
    error: BaseException | None = None


class QueryBatcher(Embedder):
    """An embedder whose `embed_queries` batches concurrent callers; thread-safe."""

    def __init__(self, inner: Embedder, window_s: float = 0.001, max_texts: int = 64) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.backend = inner.backend
        self.dimension = inner.dimension
        self.precision = inner.precision
        self._window_s = window_s
        self._max_texts = max_texts
        self._queue: list[_Request] = []
        self._queue_lock = threading.Lock()
        self._engine_lock = threading.Lock()  # one forward pass at a time

    @property
    def identity(self) -> str:
        return self.inner.identity

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        request = _Request(list(texts))
        with self._queue_lock:
            self._queue.append(request)
            leads = len(self._queue) == 1
        if leads:
            if self._window_s > 0:
                time.sleep(self._window_s)
            self._drain()
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    def _drain(self) -> None:
        """Embed queued requests, a batch at a time, until the queue is empty."""
        with self._engine_lock:
            while batch := self._take():
                self._run(batch)

    def _take(self) -> list[_Request]:
        with self._queue_lock:
            batch: list[_Request] = []
            count = 0
            while self._queue and (
                not batch or count + len(self._queue[0].texts) <= self._max_texts
            ):
                request = self._queue.pop(0)
                batch.append(request)
                count += len(request.texts)
            return batch

    def _run(self, batch: list[_Request]) -> None:
        texts = [t for request in batch for t in request.texts]
        try:
            vectors = self.inner.embed_queries(texts)
        except BaseException as exc:  # every waiting caller gets the error
            for request in batch:
                request.error = exc
                request.done.set()
            return
        start = 0
        for request in batch:
            request.vectors = vectors[start : start + len(request.texts)]
            start += len(request.texts)
            request.done.set()
