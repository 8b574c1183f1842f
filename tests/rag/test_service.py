"""The service: question checks, and the holder that swaps in rebuilt indexes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from fakes import FakeEmbedder

from rag.config import AnswerSettings, Settings
from rag.embed import Embedder
from rag.errors import IndexCorrupt, IndexNotFound, InvalidQuestion
from rag.service import IndexHolder, Service
from rag.store import CHUNKS

if TYPE_CHECKING:
    from conftest import Corpus

NEW_SENTENCE = "Ambulansetjenesten i Bergen trenger flere biler."


@pytest.fixture
def service(corpus: Corpus) -> Service:
    corpus.build()
    settings = Settings(
        index=corpus.settings.index,
        chunk=corpus.settings.chunk,
        answer=AnswerSettings(max_question_chars=40),
    )
    return Service.load(settings, FakeEmbedder())


@pytest.mark.parametrize(
    ("question", "error"),
    [
        ("", "tomt"),
        (" \n\t ", "tomt"),
        ("x" * 41, "for langt (41 tegn; maks 40)"),
        (" " * 41, "tomt"),
        ("Hva med legevakt\ud800?", "gyldig Unicode"),
    ],
)
def test_unusable_questions_are_rejected(service: Service, question: str, error: str) -> None:
    with pytest.raises(InvalidQuestion, match=re.escape(error)):
        service.check_question(question)
    with pytest.raises(InvalidQuestion):
        service.search(question)


def test_a_usable_question_is_stripped(service: Service) -> None:
    assert service.check_question("  Hva med legevakt?\n") == "Hva med legevakt?"
    assert service.check_question("x" * 40) == "x" * 40


# --- the index holder ----------------------------------------------------------------------


class CountedLoads:
    """Wraps Service.load to count how often the holder reads an index."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = Service.load

        def load(settings: Settings, embedder: Embedder) -> Service:
            self.count += 1
            return original(settings, embedder)

        monkeypatch.setattr(Service, "load", load)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> CountedLoads:
    return CountedLoads(monkeypatch)


@pytest.fixture
def holder(corpus: Corpus) -> IndexHolder:
    return IndexHolder(corpus.settings, FakeEmbedder)


def chunk_texts(service: Service) -> str:
    return " ".join(c.text for c in service.index.chunks)


def test_without_an_index_get_says_how_to_build_one(holder: IndexHolder, corpus: Corpus) -> None:
    with pytest.raises(IndexNotFound, match="rag index") as caught:
        holder.get()
    assert str(corpus.index_path) in str(caught.value)


def test_the_same_index_is_loaded_once(
    holder: IndexHolder, corpus: Corpus, loads: CountedLoads
) -> None:
    corpus.build()
    first = holder.get()
    assert holder.get() is first and holder.reload() is first
    assert loads.count == 1


def test_a_rebuild_is_served_once_the_link_points_at_it(
    holder: IndexHolder, corpus: Corpus, loads: CountedLoads
) -> None:
    first_build = corpus.build()
    first = holder.get()
    corpus.append("bergen", NEW_SENTENCE)
    second_build = corpus.build()
    assert second_build != first_build
    second = holder.get()
    assert second is not first and loads.count == 2
    assert second.index.path == second_build
    assert NEW_SENTENCE in chunk_texts(second) and NEW_SENTENCE not in chunk_texts(first)
    assert holder.get() is second


def test_a_corrupt_rebuild_keeps_the_previous_index_without_retrying(
    holder: IndexHolder, corpus: Corpus, loads: CountedLoads, caplog: pytest.LogCaptureFixture
) -> None:
    corpus.build()
    first = holder.get()
    corpus.append("bergen", NEW_SENTENCE)
    broken = corpus.build()
    (broken / CHUNKS).unlink()
    assert [holder.get() for _ in range(3)] == [first] * 3
    assert loads.count == 2  # one failed try of the broken build, then no more
    assert "cannot load index" in caplog.text and CHUNKS in caplog.text
    with pytest.raises(IndexCorrupt, match=CHUNKS):
        holder.reload(force=True)  # a requested reload reports its failure ...
    assert holder.get() is first  # ... and the previous index stays in service
    assert loads.count == 3
    corpus.append("bergen", "Legevakten trenger også flere leger.")
    fixed = corpus.build()
    assert holder.get().index.path == fixed and loads.count == 4


def test_a_corrupt_first_index_is_reported_without_retrying(
    holder: IndexHolder, corpus: Corpus, loads: CountedLoads
) -> None:
    (corpus.build() / CHUNKS).unlink()
    for _ in range(2):
        with pytest.raises(IndexCorrupt, match=CHUNKS):
            holder.get()
    assert loads.count == 1
