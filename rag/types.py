"""Shared value types. Every offset refers to `Document.text`, the cleaned stored text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# Where a document's submitter came from: the curated metadata.csv, an explicit sender line at
# the top of the text («Høringssvar fra …»), or the file name (submitter type «ukjent»).
SubmitterOrigin = Literal["metadata.csv", "avsenderlinje", "filnavn"]


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
    submitter_origin: SubmitterOrigin = "metadata.csv"
    sections: tuple[Section, ...] = ()
    # Offset at which each page begins (PDFs only); page n (1-based) starts at page_starts[n-1].
    page_starts: tuple[int, ...] = ()
    # Other documents (ids) that share most of their sentences with this one, e.g. one template
    # letter sent by several submitters; and the share of this document's sentences found in
    # each document it shares any sentence with (0-1, by document id).
    near_duplicates: tuple[str, ...] = ()
    shared_text: dict[str, float] = field(default_factory=dict)

    @property
    def submitter_guessed(self) -> bool:
        return self.submitter_origin != "metadata.csv"


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
