"""Shared value types. Every offset refers to `Document.text`, the cleaned stored text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Section:
    """A heading and where it starts in the document text."""

    start: int
    title: str


@dataclass(frozen=True)
class Document:
    document_id: str
    source: str
    submitter: str
    submitter_type: str
    title: str
    text: str
    content_hash: str
    submitter_guessed: bool = False
    sections: tuple[Section, ...] = ()
    # Offset at which each page begins (PDFs only); page n (1-based) starts at page_starts[n-1].
    page_starts: tuple[int, ...] = ()


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    document_id: str
    start: int
    end: int
    text: str
    section: str | None = None
    page: int | None = None


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score, the ranks that produced it and its cosine."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None
    similarity: float | None = None


@dataclass(frozen=True)
class Citation:
    n: int
    document_id: str
    source: str
    submitter: str
    submitter_type: str
    section: str | None
    page: int | None
    quote: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    no_answer: bool
    citations: tuple[Citation, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


Confidence = Literal["high", "low", "none"]


@dataclass(frozen=True)
class SubmitterDecision:
    """Whether one submitter discusses a question, and its quotes (best first).

    `confidence` is "none" when the submitter does not discuss it; `quotes` is then empty.
    """

    document: Document
    confidence: Confidence
    quotes: tuple[Citation, ...]
    score: float
