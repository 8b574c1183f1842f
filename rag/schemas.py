"""Request and response bodies of the HTTP API (the contract the UI and eval rely on)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic.config import JsonDict

from rag.cleaning import plain_line
from rag.contract import (
    MAX_COMPARED,
    MAX_K,
    MAX_QUESTION_CHARS,
    MAX_TOPIC_CHARS,
    MAX_TOPICS,
    MIN_COMPARED,
    Confidence,
)
from rag.matrix import Matrix, MatrixCell
from rag.types import (
    Answer,
    Citation,
    Document,
    Filters,
    Hit,
    SubmitterDecision,
    SubmitterOrigin,
)


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submitter: list[str] = Field(default_factory=list, description="Submitter names to keep.")
    submitter_type: list[str] = Field(default_factory=list, description="e.g. kommune.")
    document_id: list[str] = Field(default_factory=list)

    def to_filters(self) -> Filters:
        """The filters, each value cleaned as names are at indexing (rag/cleaning.py), so
        «Moss\\u200b kommune» selects Moss kommune."""
        return Filters(
            cleaned(self.submitter), cleaned(self.submitter_type), cleaned(self.document_id)
        )


def cleaned(values: list[str]) -> tuple[str, ...]:
    return tuple(plain_line(value) for value in values)


# The question's bounds as the schema states them; the service checks them (rag.query.
# checked_text, with its Norwegian message), once.
QUESTION_BOUNDS: JsonDict = {"minLength": 1, "maxLength": MAX_QUESTION_CHARS}


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(
        description=f"The question, in Norwegian, at most {MAX_QUESTION_CHARS:,} characters.",
        json_schema_extra=QUESTION_BOUNDS,
    )
    k: int | None = Field(
        None,
        ge=1,
        le=MAX_K,
        description=f"Passages to consider per submitter (1-{MAX_K}; default 5).",
    )
    filters: FiltersIn | None = None
    scope_from_question: bool = Field(
        True,
        description="A question that names a kind of submitter («Hva sier kommunene …») is "
        "asked of them alone (the answer's `scope` says so); false asks every submitter the "
        "filters admit. Ignored when the filters choose submitter types.",
    )


class QuoteGroupOut(BaseModel):
    label: list[str] = Field(
        description="A point's most distinctive words, taken from its quotes (empty for a "
        "question about one thing, whose one group is its best evidence)."
    )
    counts: dict[str, int] = Field(description="Submitters in the group, by submitter type.")
    shown: list[list[int]] = Field(
        description="The quotes to show first, each by its citations' numbers (a template "
        "sentence sent by several submitters is one quote with each sender's citation)."
    )
    members: list[int] = Field(description="Every citation of the group, the shown ones first.")


class TypeTallyOut(BaseModel):
    submitter_type: str
    quoted: int = Field(description="Submitters of this type the answer quotes.")
    in_scope: int = Field(description="Submitters of this type the question was asked of.")


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
    counts: list[TypeTallyOut] = Field(
        description="Who the answer quotes, by submitter type, of how many in scope."
    )
    groups: list[QuoteGroupOut] = Field(
        description="The quotes as the answer groups them: by point for a question about the "
        "whole corpus, else its best evidence first. Every citation is in one group."
    )
    scope: list[str] = Field(
        description="The submitter types the question's own words restricted it to (empty: "
        "none); ask again with scope_from_question false to ask everyone."
    )

    @classmethod
    def of(cls, answer: Answer) -> AskResponse:
        return cls(
            question=answer.question,
            answer=answer.answer,
            no_answer=answer.no_answer,
            confidence=answer.confidence,
            citations=[CitationOut.of(c) for c in answer.citations],
            timings_ms=answer.timings_ms,
            counts=[TypeTallyOut(**dataclasses.asdict(c)) for c in answer.counts],
            groups=[
                QuoteGroupOut(
                    label=list(g.label),
                    counts=g.counts,
                    shown=[list(quote) for quote in g.shown],
                    members=list(g.members),
                )
                for g in answer.groups
            ],
            scope=list(answer.scope),
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
        """`query` is echoed as it was read (cleaned, rag/cleaning.py), as /ask echoes its
        question."""
        results = [SearchResult.of(h, documents[h.chunk.document_id]) for h in hits]
        return cls(query=plain_line(query), results=results)


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
        description="The other documents (ids) of its template group: the same letter sent by "
        "several submitters (pairs sharing at least 75 % of their sentences both ways, joined)."
    )
    shared_text: dict[str, float] = Field(
        description="Share (0-1) of this document's sentences found in each other document "
        "that holds at least half of them."
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
        description="degraded: the newest build could not be loaded (the previous one is "
        "served), or an encoder the index was built with is missing (`degraded_reasons`)."
    )
    documents: int
    chunks: int
    embedding_model: str
    encoders: list[str] = Field(
        default_factory=list, description="The encoders answering questions now."
    )
    degraded_reasons: list[str] = Field(
        default_factory=list,
        description="What the service answers without, e.g. an encoder that is not fetched.",
    )
    policy: str = Field("", description="Where the relevance policy in force comes from.")
    index_built_at: str
    last_reload_error: str | None = Field(
        None, description="Why the newest build could not be loaded, or null."
    )


class ErrorBody(BaseModel):
    detail: str


# --- workbench: topic × submitter matrix and side-by-side comparison ---------------------------


def clean_topic(topic: str) -> str:
    """A topic cleaned as questions are (rag/cleaning.py); nothing left is no topic."""
    cleaned = plain_line(topic)
    if not cleaned:
        raise ValueError("et tema er tomt")
    return cleaned


# Cleaned before repeats are looked for: «lege\u200bvakt» repeats «legevakt».
Topic = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TOPIC_CHARS), AfterValidator(clean_topic)
]


class MatrixRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topics: list[Topic] = Field(
        min_length=1,
        max_length=MAX_TOPICS,
        description=f"1-{MAX_TOPICS} topics, each 1-{MAX_TOPIC_CHARS} characters, no repeats.",
    )
    filters: FiltersIn | None = None
    cells: Literal["all", "mentioned"] = Field(
        "all",
        description='"all": one cell per topic and submitter; "mentioned": only the cells of '
        "submitters that mention the topic (a submitter without a cell for a topic does not "
        "mention it). JSON only: a download always holds every cell.",
    )
    quotes: bool = Field(
        True,
        description="false: cells without quote, section and page (start and end stay, so a "
        "mark can still link to its quote), for a page that shows the marks and fetches a "
        "topic's quotes when they are read. JSON only: a download always holds the quotes.",
    )

    @field_validator("topics")
    @classmethod
    def no_repeats(cls, topics: list[str]) -> list[str]:
        repeated = sorted({t for t in topics if topics.count(t) > 1})
        if repeated:
            raise ValueError(f"temaer gjentas: {', '.join(repeated)}")
        return topics


class MatrixSubmitter(BaseModel):
    document_id: str
    source: str
    submitter: str
    submitter_type: str


class MatrixCellOut(BaseModel):
    topic: str
    document_id: str
    mentioned: bool
    confidence: Literal["high", "low", "none"]
    quote: str | None = Field(description="The submitter's best sentence: text[start:end].")
    start: int | None
    end: int | None
    section: str | None
    page: int | None
    score: float

    @classmethod
    def of(cls, cell: MatrixCell, quotes: bool = True) -> MatrixCellOut:
        quote = cell.quote
        shown = quote if quotes else None
        return cls(
            topic=cell.topic,
            document_id=cell.document.document_id,
            mentioned=cell.mentioned,
            confidence=cell.confidence,
            quote=shown.quote if shown else None,
            start=quote.start if quote else None,
            end=quote.end if quote else None,
            section=shown.section if shown else None,
            page=shown.page if shown else None,
            score=cell.score,
        )


class TypeCountOut(BaseModel):
    topic: str
    submitter_type: str
    mentioned: int
    total: int


class MatrixResponse(BaseModel):
    topics: list[str]
    submitters: list[MatrixSubmitter]
    cells: list[MatrixCellOut] = Field(
        description='One per topic and submitter (with cells="mentioned": one per topic and '
        "submitter that mentions it)."
    )
    counts: list[TypeCountOut] = Field(description="Per topic and submitter type.")
    timings_ms: dict[str, float]

    @classmethod
    def of(
        cls, matrix: Matrix, cells: Literal["all", "mentioned"] = "all", quotes: bool = True
    ) -> MatrixResponse:
        return cls(
            topics=list(matrix.topics),
            submitters=[
                MatrixSubmitter(
                    document_id=d.document_id,
                    source=d.source,
                    submitter=d.submitter,
                    submitter_type=d.submitter_type,
                )
                for d in matrix.submitters
            ],
            cells=[
                MatrixCellOut.of(c, quotes) for c in matrix.cells if cells == "all" or c.mentioned
            ],
            counts=[TypeCountOut(**c.__dict__) for c in matrix.counts],
            timings_ms=matrix.timings_ms,
        )


class TopicsResponse(BaseModel):
    topics: list[str]


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(
        description=f"The question, in Norwegian, at most {MAX_QUESTION_CHARS:,} characters.",
        json_schema_extra=QUESTION_BOUNDS,
    )
    document_ids: list[str] = Field(
        min_length=MIN_COMPARED,
        max_length=MAX_COMPARED,
        description=f"{MIN_COMPARED}-{MAX_COMPARED} submissions to compare, in column order.",
    )

    @field_validator("document_ids")
    @classmethod
    def no_repeated_documents(cls, ids: list[str]) -> list[str]:
        if len(set(ids)) != len(ids):
            raise ValueError("samme dokument er valgt flere ganger")
        return ids


class CompareColumn(BaseModel):
    document_id: str
    submitter: str
    submitter_type: str
    confidence: Literal["high", "low", "none"]
    score: float
    quotes: list[CitationOut] = Field(description="Best first; empty when it is not discussed.")

    @classmethod
    def of(cls, decision: SubmitterDecision) -> CompareColumn:
        doc = decision.document
        return cls(
            document_id=doc.document_id,
            submitter=doc.submitter,
            submitter_type=doc.submitter_type,
            confidence=decision.confidence,
            score=decision.score,
            quotes=[CitationOut.of(c) for c in decision.quotes],
        )


class CompareResponse(BaseModel):
    question: str
    columns: list[CompareColumn]
    timings_ms: dict[str, float]
