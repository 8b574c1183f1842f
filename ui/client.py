"""A small HTTP client for the RAG API: one typed function per endpoint.

Transport failures become `ApiUnavailable`; error responses become `ApiError` carrying the API's
`detail` message (rag/api_client.py: the transport, shared with the eval backend and the bench,
with one pooled HTTP client per API for the life of the process, so Streamlit reruns reuse its
connections). Responses are validated into frozen dataclasses at this edge, so the rest of the UI
never handles loose dicts; tests/rag/test_ui_client_contract.py validates every response of the
real API with these types.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from pydantic import TypeAdapter, ValidationError

from rag.api_client import ApiError as ApiError
from rag.api_client import ApiUnavailable as ApiUnavailable
from rag.api_client import call, connection, send
from rag.contract import Confidence

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Health:
    status: str
    documents: int
    chunks: int
    embedding_model: str
    index_built_at: str
    encoders: tuple[str, ...] = ()
    degraded_reasons: tuple[str, ...] = ()
    policy: str = ""


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
class TypeTally:
    submitter_type: str
    quoted: int
    in_scope: int


@dataclass(frozen=True)
class QuoteGroup:
    label: tuple[str, ...]
    counts: dict[str, int]
    shown: tuple[tuple[int, ...], ...]  # the quotes shown first, each by its citations
    members: tuple[int, ...]  # every citation of the group, the shown ones first


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    no_answer: bool
    confidence: Confidence
    citations: tuple[Citation, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    counts: tuple[TypeTally, ...] = ()
    groups: tuple[QuoteGroup, ...] = ()
    scope: tuple[str, ...] = ()


@dataclass(frozen=True)
class DocumentInfo:
    document_id: str
    source: str
    submitter: str
    submitter_type: str
    title: str
    chars: int
    chunks: int


@dataclass(frozen=True)
class Document(DocumentInfo):
    text: str = ""


@dataclass(frozen=True)
class Filters:
    """Restrictions for /ask; an empty tuple means "no restriction"."""

    submitter: tuple[str, ...] = ()
    submitter_type: tuple[str, ...] = ()
    document_id: tuple[str, ...] = ()

    def as_json(self) -> dict[str, list[str]]:
        return {name: list(values) for name, values in vars(self).items() if values}


def health(base_url: str, timeout_s: float = 10.0) -> Health:
    return _parse(Health, _request("GET", base_url, "/health", timeout_s))


def ask(
    base_url: str,
    question: str,
    k: int | None = None,
    filters: Filters | None = None,
    timeout_s: float = 60.0,
    scope_from_question: bool = True,
) -> Answer:
    body: dict[str, Any] = {"question": question}
    if k is not None:
        body["k"] = k
    if not scope_from_question:
        body["scope_from_question"] = False
    if filters is not None and filters.as_json():
        body["filters"] = filters.as_json()
    return _parse(Answer, _request("POST", base_url, "/ask", timeout_s, json=body))


def documents(base_url: str, timeout_s: float = 30.0) -> list[DocumentInfo]:
    return _parse(list[DocumentInfo], _request("GET", base_url, "/documents", timeout_s))


def document(base_url: str, document_id: str, timeout_s: float = 30.0) -> Document:
    path = f"/documents/{quote(document_id, safe='')}"
    return _parse(Document, _request("GET", base_url, path, timeout_s))


def _request(method: str, base_url: str, path: str, timeout_s: float, **kwargs: Any) -> Any:
    return call(connection(base_url), method, path, timeout_s, **kwargs)


def _parse(kind: type[T], data: Any) -> T:
    try:
        return TypeAdapter(kind).validate_python(data)
    except ValidationError as exc:
        logger.warning("Response breaks the API contract: %s", exc)
        raise ApiError(200, f"Uventet svar fra API-et: {exc.error_count()} feil") from exc


# --- workbench: matrix, comparison, topics, downloads ------------------------------------------


@dataclass(frozen=True)
class MatrixSubmitter:
    document_id: str
    source: str
    submitter: str
    submitter_type: str


@dataclass(frozen=True)
class MatrixCell:
    topic: str
    document_id: str
    mentioned: bool
    confidence: str
    quote: str | None
    start: int | None
    end: int | None
    section: str | None
    page: int | None
    score: float


@dataclass(frozen=True)
class TypeCount:
    topic: str
    submitter_type: str
    mentioned: int
    total: int


@dataclass(frozen=True)
class Matrix:
    topics: tuple[str, ...]
    submitters: tuple[MatrixSubmitter, ...]
    cells: tuple[MatrixCell, ...]
    counts: tuple[TypeCount, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CompareColumn:
    document_id: str
    submitter: str
    submitter_type: str
    confidence: str
    score: float
    quotes: tuple[Citation, ...]


@dataclass(frozen=True)
class Comparison:
    question: str
    columns: tuple[CompareColumn, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SharedText:
    """Another submission this one shares sentences with, and the share of its own sentences."""

    document_id: str
    share: float
    near_duplicate: bool


CellsShown = Literal["all", "mentioned"]


def matrix(
    base_url: str,
    topics: tuple[str, ...],
    filters: Filters | None = None,
    timeout_s: float = 60.0,
    cells: CellsShown = "all",
    quotes: bool = True,
) -> Matrix:
    """POST /matrix. `cells="mentioned"`: only the cells of submitters that mention a topic;
    `quotes=False`: without quote, section and page (the offsets stay, for the links)."""
    body = matrix_body(topics, filters, cells, quotes)
    return _parse(Matrix, _request("POST", base_url, "/matrix", timeout_s, json=body))


def matrix_body(
    topics: tuple[str, ...],
    filters: Filters | None,
    cells: CellsShown = "all",
    quotes: bool = True,
) -> dict[str, Any]:
    body: dict[str, Any] = {"topics": list(topics)}
    if filters is not None and filters.as_json():
        body["filters"] = filters.as_json()
    if cells != "all":
        body["cells"] = cells
    if not quotes:
        body["quotes"] = False
    return body


def topics(base_url: str, timeout_s: float = 10.0) -> tuple[str, ...]:
    data = _request("GET", base_url, "/topics", timeout_s)
    return tuple(_parse(list[str], data.get("topics") if isinstance(data, dict) else None))


def compare(
    base_url: str, question: str, document_ids: tuple[str, ...], timeout_s: float = 60.0
) -> Comparison:
    body = {"question": question, "document_ids": list(document_ids)}
    return _parse(Comparison, _request("POST", base_url, "/compare", timeout_s, json=body))


@dataclass(frozen=True)
class Sharing:
    """What a document shares with others, as /documents reports it: the other members of its
    template group, and the documents holding at least half of its sentences (largest first)."""

    near_duplicates: tuple[str, ...]
    shared: tuple[SharedText, ...]


@dataclass(frozen=True)
class Listing:
    """GET /documents read once: the documents, and what each shares (None when the API does
    not report it)."""

    documents: tuple[DocumentInfo, ...]
    sharing: dict[str, Sharing] | None


def listing(base_url: str, timeout_s: float = 30.0) -> Listing:
    data = _request("GET", base_url, "/documents", timeout_s)
    documents = tuple(_parse(list[DocumentInfo], data))
    rows = [d for d in data if isinstance(d, dict)]
    if not any("shared_text" in d or "near_duplicates" in d for d in rows):
        return Listing(documents, None)
    return Listing(documents, {str(d["document_id"]): sharing_of(d) for d in rows})


def sharing_of(row: dict[str, Any]) -> Sharing:
    near = tuple(str(other) for other in row.get("near_duplicates") or ())
    shares = row.get("shared_text") or {}
    shared = tuple(
        SharedText(str(other), float(share), str(other) in near)
        for other, share in sorted(shares.items(), key=lambda item: -float(item[1]))
    )
    return Sharing(near, shared)


def download(
    base_url: str, path: str, body: dict[str, Any], fmt: str, timeout_s: float = 120.0
) -> bytes:
    """The file POST `path`?format=`fmt` returns (an export of an answer or a matrix)."""
    http = connection(base_url)
    return send(http, "POST", path, timeout_s, params={"format": fmt}, json=body).content
