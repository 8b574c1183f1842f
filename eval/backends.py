"""What the runner evaluates: the service in this process, or a running HTTP API.

Both give the runner the same three things: the stored documents, ranked passages for a query,
and an answer with citations. Only the in-process backend offers the dense and BM25 retrievers
on their own; the HTTP API searches hybrid only.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Protocol, get_args

import httpx

from eval.metrics import Passage
from rag.api_client import ApiError, ApiUnavailable, call, connection
from rag.contract import Confidence
from rag.errors import RagError
from rag.retrieve import MODES, Mode
from rag.service import Service

log = logging.getLogger(__name__)

HTTP_MODES: tuple[Mode, ...] = ("hybrid",)
REQUEST_TIMEOUT_S = 60.0
CONFIDENCES: tuple[Confidence, ...] = get_args(Confidence)


class EvalError(RagError):
    """The evaluation cannot run (API unreachable, unsupported option); the message says why."""


@dataclass(frozen=True)
class StoredDocument:
    document_id: str
    source: str
    submitter: str
    text: str


@dataclass(frozen=True)
class Cited:
    document_id: str
    submitter: str
    quote: str
    start: int
    end: int

    def passage(self) -> Passage:
        return Passage(self.document_id, self.start, self.end, self.quote)


@dataclass(frozen=True)
class Reply:
    no_answer: bool
    citations: tuple[Cited, ...]
    confidence: Confidence | None = None  # None: the answer does not report one


def parse_confidence(value: object) -> Confidence | None:
    """An answer's confidence field; None when it has none, an error when it is not a level."""
    if value is None:
        return None
    if value not in CONFIDENCES:
        raise EvalError(f"unknown confidence {value!r}; valid: {', '.join(CONFIDENCES)}")
    return value


class Backend(Protocol):
    @property
    def target(self) -> str: ...

    @property
    def modes(self) -> tuple[Mode, ...]: ...

    def documents(self) -> dict[str, StoredDocument]: ...

    def search(self, query: str, k: int, mode: Mode) -> list[Passage]: ...

    def ask(self, question: str) -> Reply: ...

    def fresh(self) -> Backend:
        """The same backend with empty caches (where it can), so each pass is timed cold."""
        ...


class InProcessBackend:
    """The service loaded in this process: every retriever is available."""

    def __init__(self, service: Service) -> None:
        self.service = service

    @property
    def target(self) -> str:
        return str(self.service.index.path)

    @property
    def modes(self) -> tuple[Mode, ...]:
        return MODES

    def documents(self) -> dict[str, StoredDocument]:
        return {
            d.document_id: StoredDocument(d.document_id, d.source, d.submitter, d.text)
            for d in self.service.index.documents.values()
        }

    def search(self, query: str, k: int, mode: Mode) -> list[Passage]:
        hits = self.service.search(query, k, mode=mode)
        return [
            Passage(h.chunk.document_id, h.chunk.start, h.chunk.end, h.chunk.text) for h in hits
        ]

    def fresh(self) -> InProcessBackend:
        """A new retriever over the same index: its query-embedding cache starts empty."""
        service = self.service
        retriever = service.retriever.under(service.retriever.policy)
        parser = dataclasses.replace(service.parser, embed=retriever.embed_question)
        return InProcessBackend(dataclasses.replace(service, retriever=retriever, parser=parser))

    def ask(self, question: str) -> Reply:
        answer = self.service.ask(question)
        return Reply(
            answer.no_answer,
            tuple(
                Cited(c.document_id, c.submitter, c.quote, c.start, c.end) for c in answer.citations
            ),
            parse_confidence(getattr(answer, "confidence", None)),  # older answers lack it
        )


class HttpBackend:
    """A running API, through its public contract (GET /search, POST /ask, GET /documents)."""

    def __init__(self, base_url: str, client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client or connection(self.base_url)

    @property
    def target(self) -> str:
        return self.base_url

    @property
    def modes(self) -> tuple[Mode, ...]:
        return HTTP_MODES

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return call(self.client, method, path, REQUEST_TIMEOUT_S, **kwargs)
        except ApiUnavailable as exc:
            raise EvalError(f"cannot reach the API at {self.base_url}: {exc.reason}") from exc
        except ApiError as exc:
            raise EvalError(f"{method} {path} -> {exc.status}: {exc.detail}") from exc

    def encoders(self) -> list[str]:
        """The models the API answers with (GET /health)."""
        return list(self.call("GET", "/health").get("encoders", []))

    def documents(self) -> dict[str, StoredDocument]:
        found = {}
        for summary in self.call("GET", "/documents"):
            body = self.call("GET", f"/documents/{summary['document_id']}")
            found[body["document_id"]] = StoredDocument(
                body["document_id"], body["source"], body["submitter"], body["text"]
            )
        return found

    def search(self, query: str, k: int, mode: Mode) -> list[Passage]:
        if mode not in HTTP_MODES:
            raise EvalError(f"the API searches {', '.join(HTTP_MODES)} only; {mode} is in-process")
        body = self.call("GET", "/search", params={"q": query, "k": k})
        return [Passage(r["document_id"], r["start"], r["end"], r["text"]) for r in body["results"]]

    def fresh(self) -> HttpBackend:
        return self  # a server's caches are its own business

    def ask(self, question: str) -> Reply:
        body = self.call("POST", "/ask", json={"question": question})
        citations = tuple(
            Cited(c["document_id"], c["submitter"], c["quote"], c["start"], c["end"])
            for c in body["citations"]
        )
        return Reply(bool(body["no_answer"]), citations, parse_confidence(body.get("confidence")))
