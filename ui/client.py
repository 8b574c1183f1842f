"""A small HTTP client for the RAG API: one typed function per endpoint.

Transport failures become `ApiUnavailable`; error responses become `ApiError` carrying the API's
`detail` message. Responses are validated into frozen dataclasses at this edge, so the rest of
the UI never handles loose dicts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter, ValidationError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ApiUnavailable(Exception):
    """The API could not be reached (refused, timed out, DNS failure, ...)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class ApiError(Exception):
    """The API answered with an error status or a response that breaks the contract."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Health:
    status: str
    documents: int
    chunks: int
    embedding_model: str
    index_built_at: str


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    document_id: str
    source: str
    submitter: str
    submitter_type: str
    section: str | None
    page: int | None
    text: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class SearchResult:
    query: str
    results: tuple[Hit, ...]


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


def search(
    base_url: str,
    query: str,
    k: int = 10,
    submitter: str | None = None,
    submitter_type: str | None = None,
    timeout_s: float = 60.0,
) -> SearchResult:
    params: dict[str, str | int] = {"q": query, "k": k}
    if submitter:
        params["submitter"] = submitter
    if submitter_type:
        params["submitter_type"] = submitter_type
    data = _request("GET", base_url, "/search", timeout_s, params=params)
    return _parse(SearchResult, data)


def ask(
    base_url: str,
    question: str,
    k: int | None = None,
    filters: Filters | None = None,
    timeout_s: float = 60.0,
) -> Answer:
    body: dict[str, Any] = {"question": question}
    if k is not None:
        body["k"] = k
    if filters is not None and filters.as_json():
        body["filters"] = filters.as_json()
    return _parse(Answer, _request("POST", base_url, "/ask", timeout_s, json=body))


def documents(base_url: str, timeout_s: float = 30.0) -> list[DocumentInfo]:
    return _parse(list[DocumentInfo], _request("GET", base_url, "/documents", timeout_s))


def document(base_url: str, document_id: str, timeout_s: float = 30.0) -> Document:
    path = f"/documents/{quote(document_id, safe='')}"
    return _parse(Document, _request("GET", base_url, path, timeout_s))


def _request(method: str, base_url: str, path: str, timeout_s: float, **kwargs: Any) -> Any:
    url = base_url.rstrip("/") + path
    try:
        with httpx.Client(timeout=timeout_s) as http:
            response = http.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        logger.warning("API timeout: %s %s", method, url)
        raise ApiUnavailable(base_url, f"ingen svar innen {timeout_s:g} s") from exc
    except httpx.ConnectError as exc:
        logger.warning("API unreachable: %s %s (%s)", method, url, exc)
        raise ApiUnavailable(base_url, "fikk ikke koblet til (kjører tjenesten?)") from exc
    except httpx.TransportError as exc:
        logger.warning("API unreachable: %s %s (%s)", method, url, exc)
        raise ApiUnavailable(base_url, f"nettverksfeil ({type(exc).__name__})") from exc
    if response.is_error:
        detail = _detail(response)
        logger.info("API error %d on %s %s: %s", response.status_code, method, url, detail)
        raise ApiError(response.status_code, detail)
    try:
        return response.json()
    except ValueError as exc:
        raise ApiError(response.status_code, "API-et svarte ikke med JSON") from exc


def _detail(response: httpx.Response) -> str:
    """The `detail` of an error body; FastAPI's 422 lists become one line of messages."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):
        messages = [str(item.get("msg", item)) for item in detail if isinstance(item, dict)]
        detail = "; ".join(messages) or None
    return str(detail) if detail else f"HTTP {response.status_code}"


def _parse(kind: type[T], data: Any) -> T:
    try:
        return TypeAdapter(kind).validate_python(data)
    except ValidationError as exc:
        logger.warning("Response breaks the API contract: %s", exc)
        raise ApiError(200, f"Uventet svar fra API-et: {exc.error_count()} feil") from exc
