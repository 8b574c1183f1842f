"""The topic × submitter matrix: one cell per topic and submitter, counted per submitter type.

A pure function of the per-submitter decisions (`Service.decisions_for_many`), so the matrix
marks exactly the submitters the answer path considers to discuss a topic.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from rag.cleaning import plain_line
from rag.contract import Confidence
from rag.errors import TopicsFileError
from rag.types import Citation, Document, Filters, SubmitterDecision


@dataclass(frozen=True)
class MatrixCell:
    topic: str
    document: Document
    confidence: Confidence
    quote: Citation | None  # the submitter's best sentence on the topic; None when not mentioned
    score: float

    @property
    def mentioned(self) -> bool:
        return self.confidence != "none"


@dataclass(frozen=True)
class TypeCount:
    """How many submitters of one type mention a topic, of how many in scope."""

    topic: str
    submitter_type: str
    mentioned: int
    total: int


@dataclass(frozen=True)
class Matrix:
    topics: tuple[str, ...]
    submitters: tuple[Document, ...]  # grouped by type, the largest group first
    cells: tuple[MatrixCell, ...]  # topic by topic, submitters in the order above
    counts: tuple[TypeCount, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def cell(self, topic: str, document_id: str) -> MatrixCell:
        return self._by_key[(topic, document_id)]

    @cached_property
    def _by_key(self) -> dict[tuple[str, str], MatrixCell]:
        return {(c.topic, c.document.document_id): c for c in self.cells}


def submitter_order(documents: Sequence[Document]) -> list[Document]:
    """Documents grouped by submitter type (largest group first), then by submitter name."""
    sizes = Counter(d.submitter_type for d in documents)
    return sorted(
        documents,
        key=lambda d: (-sizes[d.submitter_type], d.submitter_type, d.submitter, d.document_id),
    )


def type_order(documents: Sequence[Document]) -> list[str]:
    return list(dict.fromkeys(d.submitter_type for d in submitter_order(documents)))


def matrix_of(
    topics: Sequence[str],
    decisions: Sequence[Sequence[SubmitterDecision]],
    timings_ms: dict[str, float] | None = None,
) -> Matrix:
    """The matrix from one list of decisions per topic (every list covers the same documents)."""
    if len(topics) != len(decisions):
        raise ValueError(f"{len(topics)} topics but {len(decisions)} decision lists")
    documents = submitter_order([d.document for d in decisions[0]]) if decisions else []
    cells: list[MatrixCell] = []
    counts: list[TypeCount] = []
    for topic, topic_decisions in zip(topics, decisions, strict=True):
        by_id = {d.document.document_id: d for d in topic_decisions}
        row = [cell_of(topic, by_id[doc.document_id]) for doc in documents]
        cells.extend(row)
        counts.extend(counts_of(topic, row, type_order(documents)))
    return Matrix(tuple(topics), tuple(documents), tuple(cells), tuple(counts), timings_ms or {})


def cell_of(topic: str, decision: SubmitterDecision) -> MatrixCell:
    quote = decision.quotes[0] if decision.confidence != "none" and decision.quotes else None
    confidence: Confidence = decision.confidence if quote else "none"
    return MatrixCell(topic, decision.document, confidence, quote, decision.score)


def counts_of(topic: str, row: Sequence[MatrixCell], types: Sequence[str]) -> list[TypeCount]:
    return [
        TypeCount(
            topic,
            kind,
            sum(c.mentioned for c in row if c.document.submitter_type == kind),
            sum(1 for c in row if c.document.submitter_type == kind),
        )
        for kind in types
    ]


def read_topics(path: Path) -> list[str]:
    """Topics from a file: one per line, each cleaned as questions are (rag/cleaning.py); blank
    lines and lines starting with # are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TopicsFileError(f"Kan ikke lese temafilen {path}: {exc}") from exc
    lines = (plain_line(line) for line in text.splitlines())
    topics = list(dict.fromkeys(line for line in lines if line and not line.startswith("#")))
    if not topics:
        raise TopicsFileError(f"Temafilen {path} har ingen temaer.")
    return topics


def topic_question(topic: str) -> str:
    """The question a topic's column answers: the matrix marks whom /ask would quote for it."""
    return f"Hva sier innspillene om {topic}?"


DecideMany = Callable[[Sequence[str], Filters], list[list[SubmitterDecision]]]


def run_matrix(decide_many: DecideMany, topics: Sequence[str], filters: Filters) -> Matrix:
    """Decide every topic (in one batch) and lay the decisions out as a matrix, timed."""
    started = time.perf_counter()
    decisions = decide_many([topic_question(t) for t in topics], filters)
    decided = time.perf_counter()
    matrix = matrix_of(topics, decisions)
    timings = {
        "decide": round((decided - started) * 1000, 2),
        "matrix": round((time.perf_counter() - decided) * 1000, 2),
        "total": round((time.perf_counter() - started) * 1000, 2),
    }
    return replace(matrix, timings_ms=timings)


class RecentMatrices:
    """The last few matrices made, by the service that made them, their topics and filters: a
    download of the matrix a page has just shown is not decided a second time (30 topics on
    300 submissions are seconds of decisions), and it holds exactly what the page showed.
    Another service (a reloaded index) never finds the matrices of the one before."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._made: OrderedDict[tuple[int, tuple[str, ...], Filters], tuple[object, Matrix]]
        self._made = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, service: object, topics: Sequence[str], filters: Filters, make: Callable[[], Matrix]
    ) -> Matrix:
        """The matrix `service` made for these topics and filters lately, else `make()`'s."""
        started = time.perf_counter()
        key = (id(service), tuple(topics), filters)
        with self._lock:
            found = self._made.get(key)
            if found is not None and found[0] is service:
                self._made.move_to_end(key)
                elapsed = round((time.perf_counter() - started) * 1000, 2)
                return replace(found[1], timings_ms={"reused": 1.0, "total": elapsed})
        matrix = make()
        with self._lock:
            self._made[key] = (service, matrix)
            self._made.move_to_end(key)
            while len(self._made) > self.size:
                self._made.popitem(last=False)
        return matrix
