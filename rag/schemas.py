"""Request and response bodies of the HTTP API (the contract the UI and eval rely on)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.types import Answer, Citation, Confidence, Document, Filters, Hit, SubmitterOrigin

MAX_K = 50


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submitter: list[str] = Field(default_factory=list, description="Submitter names to keep.")
    submitter_type: list[str] = Field(default_factory=list, description="e.g. kommune.")
    document_id: list[str] = Field(default_factory=list)

    def to_filters(self) -> Filters:
        return Filters(tuple(self.submitter), tuple(self.submitter_type), tuple(self.document_id))


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="The question, in Norwegian, at most 2,000 characters.")
    k: int | None = Field(
        None, ge=1, le=MAX_K, description="Passages to consider per submitter (1-50; default 5)."
    )
    filters: FiltersIn | None = None


class CitationOut(BaseModel):
    n: int
    document_id: str
    source: str
    submitter: str
    submitter_type: str
    section: str | None
    page: int | None
    quote: str = Field(description="Exactly the document text between start and end.")
    start: int
    end: int
    score: float

    @classmethod
    def of(cls, citation: Citation) -> CitationOut:
        return cls(**citation.__dict__)


class AskResponse(BaseModel):
    question: str
    answer: str = Field(description="Markdown with [n] markers that refer to the citations.")
    no_answer: bool = Field(description='True exactly when confidence is "none".')
    confidence: Confidence = Field(
        description='"high": close passages; "low": answered with a caution (weak matches); '
        '"none": refused, nothing relevant found.'
    )
    citations: list[CitationOut]
    timings_ms: dict[str, float]

    @classmethod
    def of(cls, answer: Answer) -> AskResponse:
        return cls(
            question=answer.question,
            answer=answer.answer,
            no_answer=answer.no_answer,
            confidence=answer.confidence,
            citations=[CitationOut.of(c) for c in answer.citations],
            timings_ms=answer.timings_ms,
        )


class SearchResult(BaseModel):
    chunk_id: str
    document_id: str
    source: str
    submitter: str
    submitter_type: str
    section: str | None
    page: int | None
    text: str = Field(description="Exactly the document text between start and end.")
    start: int
    end: int
    score: float

    @classmethod
    def of(cls, hit: Hit, document: Document) -> SearchResult:
        chunk = hit.chunk
        return cls(
            chunk_id=chunk.chunk_id,
            document_id=chunk.document_id,
            source=document.source,
            submitter=document.submitter,
            submitter_type=document.submitter_type,
            section=chunk.section,
            page=chunk.page,
            text=chunk.text,
            start=chunk.start,
            end=chunk.end,
            score=round(hit.score, 6),
        )


class SearchResponse(BaseModel):
    query: str
    results: list[SearchResult]

    @classmethod
    def of(cls, query: str, hits: list[Hit], documents: dict[str, Document]) -> SearchResponse:
        results = [SearchResult.of(h, documents[h.chunk.document_id]) for h in hits]
        return cls(query=query, results=results)


class DocumentSummary(BaseModel):
    document_id: str
    source: str
    submitter: str
    submitter_type: str
    title: str
    chars: int
    chunks: int
    submitter_origin: SubmitterOrigin = Field(
        description="Where the submitter came from: metadata.csv, a sender line in the text "
        "(avsenderlinje) or the file name (filnavn)."
    )
    near_duplicates: list[str] = Field(
        description="Documents (ids) with near-identical text, e.g. the same template letter."
    )
    shared_text: dict[str, float] = Field(
        description="Share (0-1) of this document's sentences found in each other document."
    )

    @classmethod
    def of(cls, document: Document, chunks: int) -> DocumentSummary:
        return cls(
            document_id=document.document_id,
            source=document.source,
            submitter=document.submitter,
            submitter_type=document.submitter_type,
            title=document.title,
            chars=len(document.text),
            chunks=chunks,
            submitter_origin=document.submitter_origin,
            near_duplicates=list(document.near_duplicates),
            shared_text=dict(document.shared_text),
        )


class DocumentOut(DocumentSummary):
    text: str = Field(description="The stored text that every offset refers to.")


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="degraded: the newest build could not be loaded; the previous one is served."
    )
    documents: int
    chunks: int
    embedding_model: str
    index_built_at: str
    last_reload_error: str | None = Field(
        None, description="Why the newest build could not be loaded, or null."
    )


class ErrorBody(BaseModel):
    detail: str
