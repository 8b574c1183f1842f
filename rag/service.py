"""The question-answering service over one loaded index: search, ask, documents.

`IndexHolder` keeps the current service and swaps in a new one when the index path is
pointed at a new build, so a rebuild never interrupts the requests being served.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rag.answer import compose
from rag.bm25 import tokenize, tokenize_query
from rag.config import Settings
from rag.embed import Embedder, make_embedder
from rag.errors import DocumentNotFound, IndexNotFound, InvalidQuestion, RagError
from rag.generate import generated_answer, is_enabled
from rag.retrieve import NO_FILTERS, Filters, Mode, Retriever
from rag.select import Evidence, name_words
from rag.store import StoredIndex, check_compatible, load_index, rebuild_hint
from rag.types import Answer, Document, Hit

log = logging.getLogger(__name__)

EmbedderFactory = Callable[[], Embedder]


def is_unicode_text(text: str) -> bool:
    """False for strings that cannot be written as UTF-8 (lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def milliseconds_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


@dataclass(frozen=True)
class Service:
    index: StoredIndex
    retriever: Retriever
    settings: Settings

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder) -> Service:
        index = load_index(settings.index.path)
        check_compatible(index.manifest, settings.index.path, embedder.identity, settings.chunk)
        return cls(index, Retriever(index, embedder, settings.retrieval), settings)

    def check_question(self, question: str) -> str:
        cleaned = question.strip()
        if not cleaned:
            raise InvalidQuestion("Spørsmålet er tomt. Skriv et spørsmål.")
        limit = self.settings.answer.max_question_chars
        if len(question) > limit:
            raise InvalidQuestion(f"Spørsmålet er for langt ({len(question)} tegn; maks {limit}).")
        if not is_unicode_text(question):
            # e.g. a lone surrogate from a JSON escape ("\\ud800"), which no embedder can encode
            raise InvalidQuestion("Spørsmålet inneholder tegn som ikke er gyldig Unicode.")
        return cleaned

    def search(
        self, query: str, k: int | None = None, filters: Filters = NO_FILTERS, mode: Mode = "hybrid"
    ) -> list[Hit]:
        query = self.check_question(query)
        return self.retriever.search(query, k or self.settings.retrieval.k, filters, mode)

    def ask(self, question: str, k: int | None = None, filters: Filters = NO_FILTERS) -> Answer:
        started = time.perf_counter()
        question = self.check_question(question)
        self.retriever.check_filters(filters)
        query_vector = self.retriever.embed_query(question)
        embedded = time.perf_counter()
        hits = self.retriever.best_per_document(
            question, query_vector, filters, per_document=k or self.settings.answer.k
        )
        retrieved = time.perf_counter()
        in_scope = self.documents_in_scope(filters)
        text, no_answer, citations = compose(
            question,
            hits,
            self.index.documents,
            in_scope,
            self.evidence(question),
            self.settings.answer,
        )
        timings = {
            "embed": round((embedded - started) * 1000, 2),
            "retrieve": round((retrieved - embedded) * 1000, 2),
            "answer": milliseconds_since(retrieved),
            "total": milliseconds_since(started),
        }
        if not no_answer and is_enabled(self.settings.generation):
            # "generate" when the model's answer is used, "generate_failed" when it fell back.
            generating = time.perf_counter()
            generated = generated_answer(question, citations, self.settings.generation)
            text = generated or text
            timings["generate" if generated else "generate_failed"] = milliseconds_since(generating)
            timings["total"] = milliseconds_since(started)
        return Answer(question, text, no_answer, citations, timings)

    def evidence(self, question: str) -> Evidence:
        """Coverage and IDF weights of the question's words; submitter names weigh nothing,
        since «Hva mener Bergen om ...» asks about a topic, not about the word Bergen."""
        bm25 = self.index.bm25
        weights = bm25.idf(tokenize_query(question))
        for stem in self.submitter_name_stems & weights.keys():
            weights[stem] = 0.0
        return Evidence(bm25.coverage(question), weights)

    @cached_property
    def submitter_name_stems(self) -> frozenset[str]:
        """Stems of the words that single out a submitter («bergen», not «kommune»)."""
        words = set().union(*(name_words(d.submitter) for d in self.index.documents.values()))
        return frozenset(tokenize(" ".join(words)))

    def documents_in_scope(self, filters: Filters) -> int:
        """How many documents the filters leave (the «av N» of the lead line)."""
        return sum(filters.admits(d) for d in self.index.documents.values())

    def document(self, document_id: str) -> Document:
        try:
            return self.index.documents[document_id]
        except KeyError:
            raise DocumentNotFound(f"Fant ikke dokumentet {document_id!r}.") from None

    def chunk_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.index.documents, 0)
        for chunk in self.index.chunks:
            counts[chunk.document_id] += 1
        return counts


def serving_embedder(settings: Settings) -> Embedder:
    """The configured embedder, with concurrent questions embedded together."""
    from rag.query_batcher import QueryBatcher

    return QueryBatcher(make_embedder(settings.embedding))


class IndexHolder:
    """The service in use; reloads when the index symlink points at a new build."""

    def __init__(self, settings: Settings, embedder_factory: EmbedderFactory | None = None) -> None:
        self.settings = settings
        self._embedder_factory = embedder_factory or (lambda: serving_embedder(settings))
        self._embedder: Embedder | None = None
        self._service: Service | None = None
        self._loaded_from: str | None = None
        self._failed: tuple[str | None, RagError] | None = None
        self._lock = threading.Lock()

    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self._embedder_factory()
        return self._embedder

    def current_target(self) -> str | None:
        path = self.settings.index.path
        try:
            return os.path.realpath(path) if os.path.lexists(path) else None
        except OSError:
            return None

    def reload(self, force: bool = False) -> Service:
        """Load the index if it changed; on failure keep serving the previous one."""
        target = self.current_target()
        with self._lock:
            if not force and self._service is not None and target == self._loaded_from:
                return self._service
            if not force and self._failed is not None and self._failed[0] == target:
                return self.previous_or_raise(self._failed[1])
            try:
                service = Service.load(self.settings, self.embedder())
            except RagError as exc:
                log.error("cannot load index %s: %s", target, exc)
                self._failed = (target, exc)
                return self.previous_or_raise(exc)
            self._service, self._loaded_from, self._failed = service, target, None
            log.info("serving index %s", target)
            return service

    def previous_or_raise(self, error: RagError) -> Service:
        """After a failed load: keep serving the index that worked, or report why none does."""
        if self._service is None:
            raise error
        return self._service

    def get(self) -> Service:
        """The service for a request: reloaded if the index changed on disk."""
        if self.current_target() is None and self._service is None:
            path = self.settings.index.path
            raise IndexNotFound(f"Ingen indeks i {path}. {rebuild_hint(Path(path))}")
        if self._service is not None and self.current_target() == self._loaded_from:
            return self._service
        return self.reload()
