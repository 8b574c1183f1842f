"""Run the question set against a backend (in-process or HTTP) and write the report."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from eval import metrics
from eval.backends import Backend, EvalError, HttpBackend, InProcessBackend, Reply, StoredDocument
from eval.gate import DEFAULT_FLOORS, FloorCheck, check_floors, headline_metrics, load_floors
from eval.gold import LocatedGold, StoredText, locate_all
from eval.questions import (
    DEFAULT_QUESTIONS,
    Question,
    QuestionsError,
    SplitChoice,
    load_questions,
    select_split,
)
from eval.report import DEFAULT_REPORTS, ReportPaths, write_report
from eval.summary import (
    AskRow,
    EvalResult,
    RetrievalRow,
    ask_tables,
    latencies,
    retrieval_tables,
)
from rag.config import Settings, with_index
from rag.manifest import Manifest
from rag.retrieve import MODES, Mode
from rag.service import Service

log = logging.getLogger(__name__)

KS: tuple[int, ...] = (1, 5, 10)
DEPTH = max(KS)
T = TypeVar("T")
Golds = dict[str, tuple[LocatedGold, ...]]


def select_modes(requested: Sequence[Mode], available: Sequence[Mode]) -> tuple[list[Mode], str]:
    """The requested retrievers the backend offers, and a note naming the ones it lacks."""
    chosen = [m for m in requested if m in available]
    missing = [m for m in requested if m not in available]
    if not chosen:
        raise EvalError(
            f"retriever {', '.join(missing)} is only available in-process (run without --api); "
            f"the API offers {', '.join(available)}"
        )
    note = f"{', '.join(missing)}: only available in-process; not evaluated" if missing else ""
    return chosen, note


def timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = call()
    return value, round((time.perf_counter() - started) * 1000, 2)


def locate_gold(questions: Sequence[Question], documents: dict[str, StoredDocument]) -> Golds:
    by_source = {d.source: StoredText(d.document_id, d.text) for d in documents.values()}
    return {q.id: locate_all(q.relevant, by_source) for q in questions}


def retrieval_row(
    question: Question,
    mode: Mode,
    golds: Sequence[LocatedGold],
    passages: Sequence[metrics.Passage],
    latency_ms: float,
) -> RetrievalRow:
    if not golds:  # a negative question: nothing to find, but its latency still counts
        return RetrievalRow(
            question.id,
            question.kind,
            mode,
            0,
            {},
            0.0,
            0.0,
            None,
            latency_ms,
            question.split,
            question.ui_example,
        )
    hit_sets = metrics.gold_hit_sets(passages, golds)
    return RetrievalRow(
        id=question.id,
        kind=question.kind,
        mode=mode,
        n_gold=len(golds),
        recall={k: metrics.recall_at_k(hit_sets, len(golds), k) for k in KS},
        reciprocal_rank=metrics.reciprocal_rank(hit_sets, DEPTH),
        ndcg=metrics.ndcg_at_k(hit_sets, len(golds), DEPTH),
        first_hit_rank=metrics.first_hit_rank(hit_sets),
        latency_ms=latency_ms,
        split=question.split,
        ui_example=question.ui_example,
    )


def evaluate_retrieval(
    backend: Backend, questions: Sequence[Question], golds: Golds, mode: Mode
) -> list[RetrievalRow]:
    rows = []
    for question in questions:
        passages, ms = timed(partial(backend.search, question.question, DEPTH, mode))
        rows.append(retrieval_row(question, mode, golds[question.id], passages, ms))
    return rows


def ask_row(
    question: Question,
    golds: Sequence[LocatedGold],
    documents: dict[str, StoredDocument],
    reply: Reply,
    latency_ms: float,
) -> AskRow:
    submitter_of = {d.source: d.submitter for d in documents.values()}
    exact = sum(
        c.document_id in documents
        and metrics.citation_is_exact(c.quote, documents[c.document_id].text, c.start, c.end)
        for c in reply.citations
    )
    cited = [c.passage() for c in reply.citations]
    on_gold = sum(any(metrics.hits_gold(c, g) for g in golds) for c in cited)
    if reply.confidence is not None and (reply.confidence == "none") != reply.no_answer:
        log.warning("%s: confidence %r contradicts no_answer", question.id, reply.confidence)
    return AskRow(
        id=question.id,
        kind=question.kind,
        no_answer=reply.no_answer,
        citations=len(reply.citations),
        exact_citations=exact,
        citations_on_gold=on_gold,
        cited_submitters=tuple(sorted({c.submitter for c in reply.citations})),
        gold_submitters=tuple(sorted({submitter_of.get(g.source, g.source) for g in golds})),
        latency_ms=latency_ms,
        split=question.split,
        ui_example=question.ui_example,
        confidence=reply.confidence,
        quote_hit=metrics.quote_hit(cited, golds),
    )


def evaluate_ask(
    backend: Backend,
    questions: Sequence[Question],
    golds: Golds,
    documents: dict[str, StoredDocument],
) -> list[AskRow]:
    rows = []
    for question in questions:
        reply, ms = timed(partial(backend.ask, question.question))
        rows.append(ask_row(question, golds[question.id], documents, reply, ms))
    return rows


def warm_up(backend: Backend, question: str, modes: Sequence[Mode], ask: bool) -> None:
    """One untimed call per endpoint, so model loading does not count as latency."""
    for mode in modes:
        backend.search(question, DEPTH, mode)
    if ask:
        backend.ask(question)


def run_eval(
    backend: Backend,
    questions: Sequence[Question],
    modes: Sequence[Mode] = MODES,
    ask: bool = True,
    settings: dict[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> EvalResult:
    """Search with every chosen retriever and ask every question once; summarise it all."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    chosen, note = select_modes(modes, backend.modes)
    documents = backend.documents()
    golds = locate_gold(questions, documents)
    located = Counter(g.method for found in golds.values() for g in found)
    if located["unlocated"]:
        log.warning("%d gold quotes not found in the stored text", located["unlocated"])
    warm_up(backend, questions[0].question, chosen, ask)
    retrieval: list[RetrievalRow] = []
    for mode in chosen:
        log.info("searching %d questions with %s", len(questions), mode)
        retrieval += evaluate_retrieval(backend.fresh(), questions, golds, mode)
    answers = evaluate_ask(backend.fresh(), questions, golds, documents) if ask else []
    return EvalResult(
        started_at=started,
        target=backend.target,
        questions=len(questions),
        retrieval=retrieval_tables(retrieval),
        ask=ask_tables(answers) if answers else {},
        latency=latencies(retrieval, answers),
        gold_located={str(method): n for method, n in located.items()},
        retrieval_rows=tuple(retrieval),
        ask_rows=tuple(answers),
        settings=settings or {},
        notes=(*([note] if note else []), *notes),
    )


# --- what `rag eval` runs ------------------------------------------------------------------


HTTP_TIMING_NOTE = (
    "Over HTTP each question is sent to /search before /ask; a server that caches query "
    "embeddings answers /ask without embedding the question again."
)


@dataclass(frozen=True)
class EvalRequest:
    questions: Path = DEFAULT_QUESTIONS
    modes: tuple[Mode, ...] = MODES
    index: Path | None = None
    api: str | None = None
    out: Path = DEFAULT_REPORTS
    floors: Path = DEFAULT_FLOORS
    split: SplitChoice = "all"


@dataclass(frozen=True)
class Outcome:
    result: EvalResult
    checks: tuple[FloorCheck, ...]
    paths: ReportPaths


def settings_snapshot(
    settings: Settings, manifest: Manifest, encoders: Sequence[str], policy: str
) -> dict[str, Any]:
    """What the numbers depend on: the index build, the encoders that served, the policy and
    the retrieval and answer settings in force."""
    return {
        "index": str(settings.index.path),
        "embedding_model": manifest.embedding_model,
        "encoders": list(encoders),
        "policy": policy,
        "built_at": manifest.built_at.isoformat(),
        "chunk": manifest.chunk_settings.model_dump(),
        "retrieval": settings.retrieval.model_dump(),
        "answer": settings.answer.model_dump(),
    }


def in_process(settings: Settings) -> tuple[InProcessBackend, dict[str, Any]]:
    from rag.encoders import make_encoders

    service = Service.load(settings, make_encoders(settings.embedding))
    return InProcessBackend(service), snapshot_of(service)


def snapshot_of(service: Service) -> dict[str, Any]:
    present = [m.model_name for m in service.encoders.present]
    manifest = service.index.manifest
    return settings_snapshot(service.settings, manifest, present, service.policy.source)


def evaluate(request: EvalRequest, settings: Settings) -> Outcome:
    """Run the eval the request names, check the floors and write the report files."""
    questions = select_split(load_questions(request.questions), request.split)
    if not questions:
        raise QuestionsError(f"no {request.split} questions in {request.questions}")
    if request.api:
        http = HttpBackend(request.api)
        backend: Backend = http
        snapshot: dict[str, Any] = {"api": request.api, "encoders": http.encoders()}
        notes = [HTTP_TIMING_NOTE]
    else:
        backend, snapshot = in_process(with_index(settings, request.index))
        notes = ["Each pass uses a fresh retriever, so every question's embedding is timed."]
    floors = load_floors(request.floors, snapshot["encoders"])
    if floors is None:
        notes.append(f"No floors in {request.floors} for {', '.join(snapshot['encoders'])}.")
    result = run_eval(backend, questions, request.modes, settings=snapshot, notes=notes)
    checks = check_floors(headline_metrics(result), floors or ())
    return Outcome(result, checks, write_report(result, request.out, checks))
