"""Pure ASGI middleware (no per-request task or stream, so the event loop stays free for
/health under load): the request-body limit and the request log.

BodyLimit answers a declared `Content-Length` above the limit with 413 without reading the
body; a body sent without one (chunked) is counted as it streams in and refused once it passes
the limit.
"""

from __future__ import annotations

import json
import logging
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("rag.api")


def too_large_message(limit: int) -> str:
    return f"Forespørselen er for stor (maks {limit} byte)."


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self.refuse(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route's body read, so FastAPI answers it as 413.
                    raise HTTPException(413, too_large_message(self.max_bytes))
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            await self.refuse(send)

    async def refuse(self, send: Send) -> None:
        body = json.dumps({"detail": too_large_message(self.max_bytes)}, ensure_ascii=False)
        encoded = body.encode("utf-8")
        # uvicorn discards (never buffers) the rest of the body the client still sends.
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(encoded)).encode("ascii")),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": encoded})


class RequestLog:
    """One info line per request: method, path, status and time taken."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            log.info("%s %s -> %d in %.1f ms", scope["method"], scope["path"], status, elapsed)
