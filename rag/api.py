"""The HTTP API. Routes are thin: they validate, call the service, and shape the response."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.cleaning import plain_line
from rag.config import ApiSettings, Settings, get_settings
from rag.contract import MAX_K
from rag.errors import (
    DocumentNotFound,
    EmbedderUnavailable,
    IndexCorrupt,
    IndexMismatch,
    IndexNotFound,
    InvalidFilter,
    InvalidQuestion,
    RagError,
    ReloadFailed,
    TopicsFileError,
)
from rag.export import (
    CONTENT_TYPES,
    DownloadFormat,
    ExportFormat,
    content_disposition,
    export_answer,
    file_name,
)
from rag.export_lane import (
    RETRY_AFTER_S,
    CountQuestions,
    ExportBusy,
    ExportFailed,
    ExportLane,
    QuestionTraffic,
)
from rag.matrix import Matrix, RecentMatrices, read_topics, run_matrix
from rag.middleware import (
    AllowedHosts,
    BodyDeadline,
    BodyLimit,
    HeadAsGet,
    RequestLog,
    allowed_hosts,
)
from rag.schemas import (
    QUESTION_BOUNDS,
    AskRequest,
    AskResponse,
    CompareColumn,
    CompareRequest,
    CompareResponse,
    DocumentOut,
    DocumentSummary,
    ErrorBody,
    FiltersIn,
    Health,
    MatrixRequest,
    MatrixResponse,
    SearchResponse,
    TopicsResponse,
)
from rag.service import EmbedderFactory, IndexHolder, Service
from rag.types import Filters

log = logging.getLogger("rag.api")

STATUS_OF_ERROR: dict[type[RagError], int] = {
    InvalidQuestion: 422,
    InvalidFilter: 422,
    DocumentNotFound: 404,
    IndexNotFound: 503,
    IndexCorrupt: 503,
    IndexMismatch: 503,
    EmbedderUnavailable: 503,
    ReloadFailed: 503,
    ExportBusy: 503,
    ExportFailed: 503,
    TopicsFileError: 404,
}
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (404, 413, 422, 503)
}
ADMIN_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (401, 403, 413, 503)
}
DOCS_ASSETS = "/docs-assets"  # Swagger UI and ReDoc files from the fastapi-offline package


def status_of(error: RagError) -> int:
    for kind, status in STATUS_OF_ERROR.items():
        if isinstance(error, kind):
            return status
    return 500


def holder_of(request: Request) -> IndexHolder:
    holder: IndexHolder = request.app.state.holder
    return holder


async def service(request: Request) -> Service:
    """The service in use; only a changed index is loaded, in a worker thread."""
    holder = holder_of(request)
    current = holder.current()
    return current if current is not None else await run_in_threadpool(holder.get)


def health_of(svc: Service, last_reload_error: str | None = None) -> Health:
    manifest = svc.index.manifest
    return Health(
        status="degraded" if last_reload_error or svc.degraded_reasons else "ok",
        documents=len(svc.index.documents),
        chunks=len(svc.index.chunks),
        embedding_model=manifest.embedding_model,
        encoders=[m.model_name for m in svc.encoders.present],
        degraded_reasons=svc.degraded_reasons,
        policy=svc.policy.source,
        index_built_at=manifest.built_at.isoformat(),
        last_reload_error=last_reload_error,
    )


def is_cross_origin(request: Request, allowed: tuple[str, ...]) -> bool:
    """A browser request from a page on another origin (its Origin header names another host)."""
    origin = request.headers.get("origin")
    if origin is None or origin in allowed:
        return False
    return urlsplit(origin).netloc != request.headers.get("host")


def require_admin(request: Request) -> None:
    """POST /admin/* needs the configured token as `Authorization: Bearer <token>`.

    Off without RAG_API__ADMIN_TOKEN. The token travels in a header, never a cookie, so a page
    on another site cannot make a browser send it; cross-origin posts are refused all the same.
    """
    api: ApiSettings = request.app.state.settings.api
    if api.admin_token is None:
        raise HTTPException(
            403, "Administrasjon er slått av. Sett RAG_API__ADMIN_TOKEN for å bruke /admin/."
        )
    if is_cross_origin(request, api.cors_origins):
        raise HTTPException(403, "Forespørsler fra andre nettsteder er ikke tillatt her.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = api.admin_token.get_secret_value().encode("utf-8")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode("utf-8"), expected):
        raise HTTPException(
            401,
            "Mangler eller feil token: send Authorization: Bearer <RAG_API__ADMIN_TOKEN>.",
            headers={"WWW-Authenticate": "Bearer"},
        )


ServiceDep = Annotated[Service, Depends(service)]
FormatQuery = Annotated[
    ExportFormat, Query(description="json (default), or a download: csv, xlsx, docx, md.")
]
DOWNLOAD_RESPONSES: dict[int | str, dict[str, object]] = {
    **ERROR_RESPONSES,
    200: {
        "description": "JSON, or with ?format= a file download (Content-Disposition).",
        "content": {content_type: {} for content_type in CONTENT_TYPES.values()},
    },
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RagError)
    async def rag_error(_: Request, exc: RagError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # FastAPI's «error parsing the body» (not UTF-8, say)
            detail = "Ugyldig forespørsel: innholdet kan ikke leses som JSON i UTF-8."
            return JSONResponse({"detail": detail}, status_code=422)
        return await http_exception_handler(request, exc)

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


def add_routes(app: FastAPI) -> None:
    @app.get("/health", response_model=Health, responses=ERROR_RESPONSES)
    async def health(request: Request) -> Health:
        """On the event loop, from the state already loaded: never waits behind /ask."""
        state = holder_of(request).state()
        return health_of(state.service, state.last_reload_error)

    @app.get("/search", response_model=SearchResponse, responses=ERROR_RESPONSES)
    def search(
        svc: ServiceDep,
        q: Annotated[str, Query(description="The search text.", json_schema_extra=QUESTION_BOUNDS)],
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

    @app.post("/ask", response_model=AskResponse, responses=DOWNLOAD_RESPONSES)
    def ask(
        svc: ServiceDep, body: AskRequest, format: FormatQuery = "json"
    ) -> AskResponse | Response:
        filters = (body.filters or FiltersIn()).to_filters()
        answer = svc.ask(body.question, body.k, filters, body.scope_from_question)
        if format != "json":
            return download(export_answer(answer, format), "svar", body.question, format)
        return AskResponse.of(answer)

    @app.get("/documents", response_model=list[DocumentSummary], responses=ERROR_RESPONSES)
    def documents(svc: ServiceDep) -> list[DocumentSummary]:
        counts = svc.chunk_counts()
        return [DocumentSummary.of(d, counts[i]) for i, d in svc.index.documents.items()]

    @app.get("/documents/{document_id}", response_model=DocumentOut, responses=ERROR_RESPONSES)
    def document(svc: ServiceDep, document_id: str) -> DocumentOut:
        doc = svc.document(document_id)
        summary = DocumentSummary.of(doc, svc.chunk_counts()[document_id])
        return DocumentOut(**summary.model_dump(), text=doc.text)

    @app.post(
        "/admin/reload",
        response_model=Health,
        responses=ADMIN_RESPONSES,
        dependencies=[Depends(require_admin)],
    )
    def reload(request: Request) -> Health:
        """Load the index again now (it is also reloaded when a rebuild is detected).

        Needs `Authorization: Bearer <RAG_API__ADMIN_TOKEN>`; answers 503 with the reason when
        the index cannot be loaded (a previously loaded index stays in service)."""
        try:
            return health_of(holder_of(request).reload(force=True))
        except RagError as exc:
            raise ReloadFailed(f"Indeksen kunne ikke lastes på nytt: {exc}") from exc


def add_offline_docs(app: FastAPI) -> None:
    """/docs and /redoc with their scripts served from this server, so they work offline."""
    app.mount(
        DOCS_ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets"
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} – API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{app.title} – ReDoc",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )


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
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    traffic = QuestionTraffic()
    app.state.matrices = RecentMatrices()
    app.state.exports = ExportLane(
        traffic, waiting=settings.api.export_waiting, seconds=settings.api.export_seconds
    )
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.api.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
        )
    install_error_handlers(app)
    api = settings.api
    # the last added runs first: the Host check, then the log, HEAD, the body's size and time,
    # and the count of questions being answered
    app.add_middleware(CountQuestions, traffic=traffic)  # exports give way to questions
    app.add_middleware(BodyDeadline, seconds=api.body_timeout_s)
    app.add_middleware(BodyLimit, max_bytes=api.max_body_bytes)
    app.add_middleware(HeadAsGet)
    app.add_middleware(RequestLog)
    app.add_middleware(AllowedHosts, hosts=allowed_hosts(api.host, api.allowed_hosts))
    add_routes(app)
    add_offline_docs(app)
    add_workbench_routes(app)
    return app


# --- workbench: matrix, comparison, topics, downloads ------------------------------------------


def download(content: bytes, prefix: str, title: str, fmt: DownloadFormat) -> Response:
    name = file_name(prefix, title, fmt)
    return Response(
        content,
        media_type=CONTENT_TYPES[fmt],
        headers={"Content-Disposition": content_disposition(name)},
    )


def decided(
    request: Request, svc: Service, body: MatrixRequest, between: Callable[[], None] | None = None
) -> Matrix:
    """The request's matrix: the one just made for the same topics and filters, or a new one
    (`between` is called between two topics' decisions)."""
    filters = (body.filters or FiltersIn()).to_filters()
    decide = partial(svc.decisions_for_many, between=between)
    recent: RecentMatrices = request.app.state.matrices
    return recent.get(svc, body.topics, filters, partial(run_matrix, decide, body.topics, filters))


def add_workbench_routes(app: FastAPI) -> None:
    @app.post("/matrix", response_model=MatrixResponse, responses=DOWNLOAD_RESPONSES)
    def matrix(
        request: Request, svc: ServiceDep, body: MatrixRequest, format: FormatQuery = "json"
    ) -> MatrixResponse | Response:
        """One cell per topic and submitter: does it discuss the topic, and its best quote.
        A download (?format=) is made in the export lane (rag/export_lane.py): one at a time,
        giving way to questions; 503 with Retry-After when too many wait."""
        if format == "json":
            return MatrixResponse.of(decided(request, svc, body), body.cells, body.quotes)
        lane: ExportLane = request.app.state.exports
        try:
            with lane.turn():
                content = lane.write(decided(request, svc, body, lane.give_way), format)
        except ExportBusy as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": str(RETRY_AFTER_S)}) from exc
        title = f"{len(body.topics)} temaer" if len(body.topics) > 1 else body.topics[0]
        return download(content, "oversikt", title, format)

    @app.post("/compare", response_model=CompareResponse, responses=ERROR_RESPONSES)
    def compare(svc: ServiceDep, body: CompareRequest) -> CompareResponse:
        """2-4 submissions side by side on one question: each one's own quotes, or none."""
        started = time.perf_counter()
        filters = Filters(document_id=tuple(body.document_ids))
        by_id = {d.document.document_id: d for d in svc.submitter_decisions(body.question, filters)}
        total = round((time.perf_counter() - started) * 1000, 2)
        return CompareResponse(
            question=plain_line(body.question),
            columns=[CompareColumn.of(by_id[i]) for i in body.document_ids],
            timings_ms={"total": total},
        )

    @app.get("/topics", response_model=TopicsResponse, responses=ERROR_RESPONSES)
    def topics(svc: ServiceDep) -> TopicsResponse:
        """The default topics of the overview (the topics file, RAG_MATRIX__TOPICS_FILE)."""
        return TopicsResponse(topics=read_topics(svc.settings.matrix.topics_file))
