"""The HTTP API. Routes are thin: they validate, call the service, and shape the response."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from rag.config import Settings, get_settings
from rag.errors import (
    DocumentNotFound,
    EmbedderUnavailable,
    IndexCorrupt,
    IndexMismatch,
    IndexNotFound,
    InvalidFilter,
    InvalidQuestion,
    RagError,
)
from rag.schemas import (
    MAX_K,
    AskRequest,
    AskResponse,
    DocumentOut,
    DocumentSummary,
    ErrorBody,
    FiltersIn,
    Health,
    SearchResponse,
)
from rag.service import EmbedderFactory, IndexHolder, Service

log = logging.getLogger("rag.api")

STATUS_OF_ERROR: dict[type[RagError], int] = {
    InvalidQuestion: 422,
    InvalidFilter: 422,
    DocumentNotFound: 404,
    IndexNotFound: 503,
    IndexCorrupt: 503,
    IndexMismatch: 503,
    EmbedderUnavailable: 503,
}
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (404, 422, 503)
}


def status_of(error: RagError) -> int:
    for kind, status in STATUS_OF_ERROR.items():
        if isinstance(error, kind):
            return status
    return 500


def service(request: Request) -> Service:
    holder: IndexHolder = request.app.state.holder
    return holder.get()


ServiceDep = Annotated[Service, Depends(service)]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RagError)
    async def rag_error(_: Request, exc: RagError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in exc.errors()
        )
        return JSONResponse({"detail": f"Ugyldig forespørsel: {problems}"}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse({"detail": "Intern feil; se tjenestens logg."}, status_code=500)


def install_request_logging(app: FastAPI) -> None:
    @app.middleware("http")
    async def log_request(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        log.info(
            "%s %s -> %d in %.1f ms",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response


def add_routes(app: FastAPI) -> None:
    @app.get("/health", response_model=Health, responses=ERROR_RESPONSES)
    def health(svc: ServiceDep) -> Health:
        manifest = svc.index.manifest
        return Health(
            status="ok",
            documents=len(svc.index.documents),
            chunks=len(svc.index.chunks),
            embedding_model=manifest.embedding_model,
            index_built_at=manifest.built_at.isoformat(),
        )

    @app.get("/search", response_model=SearchResponse, responses=ERROR_RESPONSES)
    def search(
        svc: ServiceDep,
        q: Annotated[str, Query(description="The search text.")],
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
        submitter: Annotated[list[str] | None, Query()] = None,
        submitter_type: Annotated[list[str] | None, Query()] = None,
        document_id: Annotated[list[str] | None, Query()] = None,
    ) -> SearchResponse:
        filters = FiltersIn(
            submitter=submitter or [],
            submitter_type=submitter_type or [],
            document_id=document_id or [],
        ).to_filters()
        return SearchResponse.of(q, svc.search(q, k, filters), svc.index.documents)

    @app.post("/ask", response_model=AskResponse, responses=ERROR_RESPONSES)
    def ask(svc: ServiceDep, body: AskRequest) -> AskResponse:
        filters = (body.filters or FiltersIn()).to_filters()
        return AskResponse.of(svc.ask(body.question, body.k, filters))

    @app.get("/documents", response_model=list[DocumentSummary], responses=ERROR_RESPONSES)
    def documents(svc: ServiceDep) -> list[DocumentSummary]:
        counts = svc.chunk_counts()
        return [DocumentSummary.of(d, counts[i]) for i, d in svc.index.documents.items()]

    @app.get("/documents/{document_id}", response_model=DocumentOut, responses=ERROR_RESPONSES)
    def document(svc: ServiceDep, document_id: str) -> DocumentOut:
        doc = svc.document(document_id)
        summary = DocumentSummary.of(doc, svc.chunk_counts()[document_id])
        return DocumentOut(**summary.model_dump(), text=doc.text)

    @app.post("/admin/reload", response_model=Health, responses=ERROR_RESPONSES)
    def reload(request: Request) -> Health:
        """Load the index again now (it is also reloaded when a rebuild is detected)."""
        holder: IndexHolder = request.app.state.holder
        return health(holder.reload(force=True))


def create_app(
    settings: Settings | None = None, embedder_factory: EmbedderFactory | None = None
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.holder = IndexHolder(settings, embedder_factory)
        try:
            app.state.holder.reload()
        except RagError as exc:
            log.error("starting without an index: %s", exc)
        yield

    app = FastAPI(
        title="Høringsinnspill RAG",
        description="Sitert, uttrekkende spørsmål og svar over høringsinnspill.",
        version="0.1.0",
        lifespan=lifespan,
    )
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.api.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
        )
    install_error_handlers(app)
    install_request_logging(app)
    add_routes(app)
    return app
