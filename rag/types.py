"""Shared value types. Every offset refers to `Document.text`, the cleaned stored text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from rag.contract import Confidence

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
    # The other documents (ids) of its template group (one letter sent by several submitters:
    # pairs sharing 75 % of their sentences both ways, joined; indexer/dedupe.py); and the share
    # of this document's sentences found in each document holding at least half of them.
    near_duplicates: tuple[str, ...] = ()
    shared_text: dict[str, float] = field(default_factory=dict)

    @property
    def submitter_guessed(self) -> bool:
        return self.submitter_origin != "metadata.csv"


@dataclass(frozen=True)
class Filters:
    """Which documents a question is about; an empty filter lets every document pass."""

    submitter: tuple[str, ...] = ()
    submitter_type: tuple[str, ...] = ()
    document_id: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.submitter or self.submitter_type or self.document_id)

    def admits(self, document: Document) -> bool:
        """Each filter given must list the document's value."""
        return (
            (not self.submitter or document.submitter in self.submitter)
            and (not self.submitter_type or document.submitter_type in self.submitter_type)
            and (not self.document_id or document.document_id in self.document_id)
        )


NO_FILTERS = Filters()


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
class Sentence:
    """A sentence of a document (`Document.text[start:end]`) and the chunk rows that hold it."""

    document_id: str
    start: int
    end: int
    chunk_rows: tuple[int, ...]


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score, the ranks that produced it and its cosine."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None
    similarity: float | None = None


@dataclass(frozen=True, eq=False)
class Candidates:
    """One document's candidate sentences for a question and what the decision reads of them
    (`rag.scoring`): a row each; `own`, `chunk` and `typical` have a column per encoder."""

    rows: NDArray[np.int64]  # sentence rows in the index
    own: NDArray[np.float32]  # the sentence's own cosine to the question's topic
    chunk: NDArray[np.float32]  # the cosine of the closest chunk that holds it
    typical: NDArray[np.float32]  # its typicality less the corpus median
    wording: NDArray[np.int64]  # shared by sentences with the same wording
    overlap: NDArray[np.float32]  # the question's IDF-weighted words it shares

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def joined(cls, parts: Sequence[Candidates], encoders: int) -> Candidates:
        """The candidates of several documents one after another."""
        columns = (np.empty((0, encoders), np.float32),)
        return cls(
            np.concatenate([np.empty(0, np.int64), *(c.rows for c in parts)]),
            np.concatenate([*columns, *(c.own for c in parts)]),
            np.concatenate([*columns, *(c.chunk for c in parts)]),
            np.concatenate([*columns, *(c.typical for c in parts)]),
            np.concatenate([np.empty(0, np.int64), *(c.wording for c in parts)]),
            np.concatenate([np.empty(0, np.float32), *(c.overlap for c in parts)]),
        )

    def take(self, positions: NDArray[np.int64] | slice) -> Candidates:
        """These candidates at `positions` only (a slice: views, no copy)."""
        return Candidates(
            self.rows[positions],
            self.own[positions],
            self.chunk[positions],
            self.typical[positions],
            self.wording[positions],
            self.overlap[positions],
        )


@dataclass(frozen=True, eq=False)
class DocumentEvidence:
    """One document in scope and its candidate sentences for a question."""

    document: Document
    candidates: Candidates


@dataclass(frozen=True, eq=False)
class Evidence:
    """What retrieval found for a question: every document in scope (index order) with its
    candidates, and what else the decision reads."""

    documents: tuple[DocumentEvidence, ...]
    sentences: Sequence[Sentence]  # the index's sentences, by row
    encoders: tuple[str, ...]  # identities of the encoders, in column order
    coverage: float  # how well the corpus knows the question's words (`rag.vocabulary`)


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


CONFIDENCES: tuple[Confidence, ...] = ("high", "low", "none")


@dataclass(frozen=True)
class SubmitterDecision:
    """Whether one document discusses a question, and its best quotes if it does."""

    document: Document
    confidence: Confidence  # "none": does not discuss it
    quotes: tuple[Citation, ...]  # best first; empty when confidence == "none"
    score: float
    rows: tuple[int, ...] = ()  # each quote's sentence row in the index


@dataclass(frozen=True)
class QuoteGroup:
    """Quotes an answer shows together: for a question about the whole corpus one point its
    submitters make (labelled by its own most distinctive words); for another question its best
    evidence, then the other submitters that touch it. Citations by number, in answer order."""

    label: tuple[str, ...]  # words of the group's quotes; () for a specific question's groups
    counts: dict[str, int]  # submitters of each type in the group
    shown: tuple[tuple[int, ...], ...]  # the quotes shown first: each its citations (a template
    # sentence sent by several is one quote with each sender's citation)
    members: tuple[int, ...]  # every citation of the group, the shown ones first


@dataclass(frozen=True)
class TypeTally:
    """How many submitters of one type an answer quotes, of how many in its scope."""

    submitter_type: str
    quoted: int
    in_scope: int


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    confidence: Confidence  # "low": answered with a caution; "none": refused
    citations: tuple[Citation, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    groups: tuple[QuoteGroup, ...] = ()
    counts: tuple[TypeTally, ...] = ()  # by submitter type, most quoted first
    scope: tuple[str, ...] = ()  # the submitter types the question's own words asked about

    @property
    def no_answer(self) -> bool:
        return self.confidence == "none"


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str
