"""The micro-batcher: concurrent questions share one forward pass and each gets its own rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fakes import FakeEmbedder

from rag.embed import Vectors
from rag.query_batcher import QueryBatcher


class SlowFake(FakeEmbedder):
    """A fake whose query pass takes a while, like a real forward pass; records batch sizes."""

    def __init__(self, seconds: float = 0.03, fail: bool = False) -> None:
        super().__init__()
        self.seconds = seconds
        self.fail = fail
        self.batch_sizes: list[int] = []
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            self.batch_sizes.append(len(texts))
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        time.sleep(self.seconds)
        with self._lock:
            self.running -= 1
        if self.fail:
            raise RuntimeError("engine broke")
        return super().embed_queries(texts)


def ask_together(batcher: QueryBatcher, questions: list[list[str]]) -> list[Vectors]:
    start = threading.Barrier(len(questions))

    def ask(texts: list[str]) -> Vectors:
        start.wait()
        return batcher.embed_queries(texts)

    with ThreadPoolExecutor(len(questions)) as pool:
        return list(pool.map(ask, questions))


QUESTIONS = [[f"spørsmål nummer {i} om fastleger"] for i in range(16)]


def test_concurrent_questions_are_embedded_together_and_each_gets_its_own_vector() -> None:
    inner = SlowFake()
    batcher = QueryBatcher(inner, window_s=0.005)
    results = ask_together(batcher, QUESTIONS)
    for texts, vectors in zip(QUESTIONS, results, strict=True):
        np.testing.assert_array_equal(vectors, FakeEmbedder().embed_queries(texts))
    assert sum(inner.batch_sizes) == len(QUESTIONS)
    assert len(inner.batch_sizes) < len(QUESTIONS) / 2
    assert max(inner.batch_sizes) > 1
    assert inner.most_running == 1  # never two forward passes at once


def test_callers_with_several_texts_get_their_rows_in_order() -> None:
    inner = SlowFake()
    questions = [[f"a{i}", f"b{i}", f"c{i}"] for i in range(6)]
    results = ask_together(QueryBatcher(inner, window_s=0.005), questions)
    for texts, vectors in zip(questions, results, strict=True):
        assert vectors.shape == (3, inner.dimension)
        np.testing.assert_array_equal(vectors, FakeEmbedder().embed_queries(texts))


def test_a_batch_holds_at_most_max_texts_and_nobody_is_left_waiting() -> None:
    inner = SlowFake(seconds=0.01)
    results = ask_together(QueryBatcher(inner, window_s=0.005, max_texts=4), QUESTIONS)
    assert len(results) == len(QUESTIONS)
    assert max(inner.batch_sizes) <= 4 and sum(inner.batch_sizes) == len(QUESTIONS)


def test_a_lone_question_is_embedded_alone() -> None:
    inner = SlowFake(seconds=0.0)
    batcher = QueryBatcher(inner)
    for i in range(3):
        batcher.embed_queries([f"q{i}"])
    assert inner.batch_sizes == [1, 1, 1]
    assert batcher.embed_queries([]).shape == (0, inner.dimension)


def test_an_engine_error_reaches_every_caller_in_the_batch() -> None:
    batcher = QueryBatcher(SlowFake(fail=True), window_s=0.005)
    start = threading.Barrier(4)
    errors: list[str] = []

    def ask(texts: list[str]) -> None:
        start.wait()
        try:
            batcher.embed_queries(texts)
        except RuntimeError as exc:
            errors.append(str(exc))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(ask, QUESTIONS[:4]))
    assert errors == ["engine broke"] * 4


def test_passages_and_identity_pass_straight_through() -> None:
    inner = SlowFake()
    batcher = QueryBatcher(inner)
    batcher.embed_passages(["x", "y"])
    assert inner.calls[-1] == ["x", "y"] and inner.batch_sizes == []
    assert batcher.identity == inner.identity and batcher.dimension == inner.dimension


def test_the_server_embeds_each_encoders_questions_through_a_batcher(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rag.config import Settings
    from rag.encoders import EncoderSet
    from rag.service import IndexHolder

    fakes = {model: FakeEmbedder(name=model) for model in Settings().embedding.models}
    monkeypatch.setattr("rag.encoders.make_embedder", lambda settings, model: fakes[model])
    embedder = IndexHolder(Settings()).embedder()
    assert isinstance(embedder, EncoderSet) and len(embedder.members) == len(fakes) == 2
    for member, fake in zip(embedder.members, fakes.values(), strict=True):
        assert isinstance(member, QueryBatcher) and member.inner is fake
