"""The question-answering service over one loaded index: search, ask, documents.

`IndexHolder` keeps the current service and swaps in a new one when the index path is
pointed at a new build, so a rebuild never interrupts the requests being served.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from threadpoolctl import threadpool_limits

from rag.answer import compose, literal_with_markers
from rag.config import Settings
from rag.decide import Decision, decide
from rag.embed import Embedder
from rag.encoders import EncoderSet, as_encoder_set, make_encoders
from rag.errors import DocumentNotFound, IndexNotFound, RagError
from rag.generate import generated_answer, is_enabled
from rag.policy import Policy, Resolved, resolve
from rag.query import Query, QueryParser, checked_text
from rag.retrieve import Mode, Retriever
from rag.store import StoredIndex, check_compatible, load_index, rebuild_hint, serving_encoders
from rag.types import NO_FILTERS, Answer, Document, Filters, Hit, SubmitterDecision

log = logging.getLogger(__name__)

EmbedderFactory = Callable[[], Embedder]


def single_threaded_blas() -> None:
    """Keep numpy's BLAS on one thread in a serving process.

    Its worker threads spin-wait after every product and so take the two cores from the ONNX
    Runtime threads that embed the next question; the products made per question (a few
    thousand vectors of 384 by one) gain nothing from threads. Measured in one process on the
    seeds: question embedding p50 22 -> 10.5 ms, `Service.ask` 25 -> 12 ms."""
    threadpool_limits(1, user_api="blas")


def milliseconds_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


@dataclass(frozen=True)
class Service:
    index: StoredIndex
    retriever: Retriever
    parser: QueryParser
    settings: Settings
    encoders: EncoderSet  # arranged as the index was built; a missing one is `Missing`
    policy: Resolved  # the calibrated policy in force (`rag.policy`)

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder, policy: Policy | None = None) -> Service:
        """The service over the configured index, under its calibrated policy (`policy` given:
        under that one instead, as the calibration tries its candidates)."""
        single_threaded_blas()
        path = settings.index.path
        index = load_index(path)
        check_compatible(index.manifest, path, settings.chunk)
        encoders = serving_encoders(index.manifest, path, as_encoder_set(embedder))
        present = tuple(m.identity for m in encoders.present)
        resolved = resolve(index.manifest, path, present)
        if policy is not None:
            resolved = Resolved(policy, resolved.origin, "gitt av kalibreringen")
        retriever = Retriever(index, encoders, resolved.policy, settings.retrieval)
        parser = QueryParser.of(index, retriever.embed_question, settings.answer.max_question_chars)
        for missing in encoders.missing:
            log.warning("serving without %s: %s", missing.model_name, missing.reason)
        log.info("relevance policy: %s", resolved.source)
        return cls(index, retriever, parser, settings, encoders, resolved)

    @property
    def degraded_reasons(self) -> list[str]:
        """Why the service answers with less than it is configured for: an encoder the index
        was built with that cannot be loaded now, or a configured one that an index built from
        this configuration lacks (not fetched when it was built)."""
        missing = [f"{m.model_name} mangler ({m.reason})" for m in self.encoders.missing]
        built = {e.model for e in self.index.manifest.encoders}
        configured = self.settings.embedding.models
        if not built & set(configured):  # built with other models altogether (a test's fake)
            return missing
        without = [
            f"indeksen er bygget uten {model}"
            + (
                f" ({self.encoders.unavailable[model]})"
                if model in self.encoders.unavailable
                else ""
            )
            for model in configured
            if model not in built
        ]
        return missing + without

    def parse(
        self,
        question: str,
        filters: Filters = NO_FILTERS,
        corpus_wide: bool | None = None,
        answering: bool = True,
        scoped: bool = False,
    ) -> Query:
        """The one place a question is validated, embedded and tokenised (`QueryParser.parse`)."""
        self.retriever.check_filters(filters)
        return self.parser.parse(question, filters, corpus_wide, answering, scoped)

    def search(
        self, text: str, k: int | None = None, filters: Filters = NO_FILTERS, mode: Mode = "hybrid"
    ) -> list[Hit]:
        query = self.parse(text, filters, answering=False)
        return self.retriever.search(query, k or self.settings.retrieval.k, mode)

    def decide(self, query: Query, per_document: int | None = None) -> Decision:
        """Retrieve the evidence and decide who answers: shared by /ask and /matrix."""
        depth = per_document or self.settings.answer.k
        evidence = self.retriever.evidence(query, depth)
        return decide(query, evidence, self.retriever.policy, self.settings.answer, depth)

    def submitter_decisions(
        self, question: str, filters: Filters = NO_FILTERS
    ) -> list[SubmitterDecision]:
        """One decision per document in scope for a topic (every document counts; a topic's
        words do not narrow who is asked, the filters do)."""
        query = self.parse(question, filters, corpus_wide=True)
        return list(self.decide(query).submitters)

    def ask(
        self,
        question: str,
        k: int | None = None,
        filters: Filters = NO_FILTERS,
        scoped: bool = True,
    ) -> Answer:
        """`scoped`: a question that names a kind of submitter («kommunene») asks them alone
        (said in the answer); False asks every submitter the filters admit."""
        started = time.perf_counter()
        query = self.parse(question, filters, scoped=scoped)
        parsed = time.perf_counter()
        decision = self.decide(query, k)
        decided = time.perf_counter()
        composed = compose(query, decision, self.in_scope(query.filters), self.retriever.fused_unit)
        text, citations = composed.text, composed.citations
        timings = {
            "embed": round((parsed - started) * 1000, 2),
            "retrieve": round((decided - parsed) * 1000, 2),
            "answer": milliseconds_since(decided),
            "total": milliseconds_since(started),
        }
        if citations and is_enabled(self.settings.generation):
            # "generate" when the model's answer is used, "generate_failed" when it fell back.
            generating = time.perf_counter()
            generated = generated_answer(query.text, citations, self.settings.generation)
            text = literal_with_markers(generated) if generated else text
            timings["generate" if generated else "generate_failed"] = milliseconds_since(generating)
            timings["total"] = milliseconds_since(started)
        confidence = decision.confidence if citations else "none"
        return Answer(
            query.text,
            text,
            confidence,
            citations,
            timings,
            composed.groups,
            composed.counts,
            query.scope,
        )

    def decisions_for_many(
        self,
        questions: Sequence[str],
        filters: Filters = NO_FILTERS,
        between: Callable[[], None] | None = None,
    ) -> list[list[SubmitterDecision]]:
        """`submitter_decisions` for each question; the questions are embedded in one batch.
        `between` is called between two questions (an export gives way to questions there)."""
        self.retriever.check_filters(filters)
        texts = [checked_text(q, self.parser.max_chars) for q in questions]  # all valid first
        self.retriever.embed_queries(texts)  # one batch; parsing below finds them cached
        decisions: list[list[SubmitterDecision]] = []
        for i, text in enumerate(texts):
            if i and between is not None:
                between()
            decisions.append(self.submitter_decisions(text, filters))
        return decisions

    def in_scope(self, filters: Filters) -> dict[str, int]:
        """How many documents of each submitter type the filters leave (the «av N» of the
        lead line)."""
        return dict(
            Counter(d.submitter_type for d in self.index.documents.values() if filters.admits(d))
        )

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


@dataclass(frozen=True)
class HolderState:
    """What a health check reports, read without loading anything."""

    service: Service
    last_reload_error: str | None


def serving_embedder(settings: Settings) -> Embedder:
    """The configured encoders, concurrent questions embedded together. A server embeds
    questions only, each encoder's on a thread of its own at the same time, so each engine
    gets one thread unless `threads` is set: two threads per engine waited on each other
    (both encoders' question p50 90 ms with one thread each against 387 ms with two, under
    load; README, Embedding engines)."""
    from rag.query_batcher import QueryBatcher

    embedding = settings.embedding.model_copy(update={"threads": settings.embedding.threads or 1})
    return make_encoders(embedding, wrap=QueryBatcher)


class IndexHolder:
    """The service in use; reloads when the index symlink points at a new build.

    A build that cannot be loaded is remembered (`last_reload_error`) while the previous one
    stays in service, so that health checks can report the server as degraded.
    """

    def __init__(self, settings: Settings, embedder_factory: EmbedderFactory | None = None) -> None:
        self.settings = settings
        self._embedder_factory = embedder_factory or (lambda: serving_embedder(settings))
        self._embedder: Embedder | None = None
        self._service: Service | None = None
        self._loaded_from: str | None = None
        self._failed: tuple[str | None, RagError] | None = None
        self._lock = threading.Lock()
        self._refresher: threading.Thread | None = None

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
        """Load the index if it changed; on failure keep serving the previous one.

        A forced reload (POST /admin/reload) raises the failure, so its caller learns of it;
        the previous index stays in service all the same.
        """
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
                if force:
                    raise
                return self.previous_or_raise(exc)
            self._service, self._loaded_from, self._failed = service, target, None
            log.info("serving index %s", target)
            return service

    def previous_or_raise(self, error: RagError) -> Service:
        """After a failed load: keep serving the index that worked, or report why none does."""
        if self._service is None:
            raise error
        return self._service

    def current(self) -> Service | None:
        """The service in use if the index on disk is still the one it serves."""
        service = self._service
        if service is not None and self.current_target() == self._loaded_from:
            return service
        return None

    def get(self) -> Service:
        """The service for a request: reloaded if the index changed on disk."""
        if self.current_target() is None and self._service is None:
            raise self.not_found()
        if self._service is not None and self.current_target() == self._loaded_from:
            return self._service
        return self.reload()

    def not_found(self) -> IndexNotFound:
        path = self.settings.index.path
        return IndexNotFound(f"Ingen indeks i {path}. {rebuild_hint(Path(path))}")

    def state(self) -> HolderState:
        """The loaded service and the last load failure, without touching the index files.

        Raises the reason when no index is in service. A new build on disk is loaded in the
        background (`refresh_in_background`), so the caller never waits for it.
        """
        self.refresh_in_background()
        service, failed = self._service, self._failed
        if service is None:
            raise failed[1] if failed is not None else self.not_found()
        # A failure counts while the build that failed is still the one on disk.
        newest_failed = failed is not None and failed[0] == self.current_target()
        return HolderState(service, str(failed[1]) if failed and newest_failed else None)

    def refresh_in_background(self) -> None:
        """Start loading a build that differs from the one in service, in a thread of its own."""
        target = self.current_target()
        if target is None or target == self._loaded_from:
            return
        if self._failed is not None and self._failed[0] == target:
            return
        if self._refresher is not None and self._refresher.is_alive():
            return
        self._refresher = threading.Thread(target=self._refresh, name="index-reload", daemon=True)
        self._refresher.start()

    def _refresh(self) -> None:
        with contextlib.suppress(RagError):  # logged by reload, reported through state()
            self.reload()
