"""Pure ASGI middleware (no per-request task or stream, so the event loop stays free for
/health under load): the request-body limit and deadline, HEAD, the Host check and the request
log.

BodyLimit answers a declared `Content-Length` above the limit with 413 without reading the
body; a body sent without one (chunked) is counted as it streams in and refused once it passes
the limit. BodyDeadline answers a body that has not arrived in time with 408 and closes the
connection. HeadAsGet answers HEAD on every GET route. AllowedHosts refuses a Host header that
names another server (DNS rebinding) with 400.
"""

from __future__ import annotations

import asyncio
import ipaddress
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
        # Fresh messages per request: a middleware outside may add headers to them in place.
        # uvicorn discards (never buffers) the rest of the body the client still sends.
        refusal = json_response(413, too_large_message(self.max_bytes))
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            for message in refusal:
                await send(message)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route's body read, so FastAPI answers it as 413.
                    raise HTTPException(413, too_large_message(self.max_bytes))
            return message

        await answering(self.app, scope, counting_receive, send, 413, refusal)


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


def json_response(status: int, detail: str, close: bool = False) -> list[Message]:
    """The ASGI messages of a JSON error response (`close`: end the connection after it)."""
    encoded = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(encoded)).encode("ascii")),
    ]
    if close:
        headers.append((b"connection", b"close"))
    return [
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": encoded},
    ]


async def answering(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, status: int, refusal: list[Message]
) -> None:
    """Run `app`; an HTTPException of `status` raised by `receive` inside a route (the body
    read) is answered with `refusal` when no response has started yet."""
    started = False

    async def watching_send(message: Message) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, receive, watching_send)
    except HTTPException as exc:
        if exc.status_code != status or started:
            raise
        for message in refusal:
            await send(message)


def slow_body_message(seconds: float) -> str:
    return f"Forespørselen kom ikke fram i tide (hele innholdet må komme innen {seconds:g} s)."


class BodyDeadline:
    """A request's body must arrive within `seconds` of the request: a client that sends half
    a body and waits (holding a connection and a worker, a slow-body attack) gets 408 and the
    connection is closed. uvicorn times out idle keep-alive connections, not request bodies."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        body_done = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:  # later reads wait for a disconnect, which takes its own time
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise HTTPException(
                    408, slow_body_message(self.seconds), headers={"Connection": "close"}
                ) from None
            body_done = message["type"] != "http.request" or not message.get("more_body")
            return message

        refusal = json_response(408, slow_body_message(self.seconds), close=True)
        await answering(self.app, scope, timed_receive, send, 408, refusal)


class HeadAsGet:
    """HEAD is answered as GET (the server sends the head without the body), as HTTP asks of
    every GET route; FastAPI's routes accept only the methods they name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}  # a copy: the server still knows it was HEAD
        await self.app(scope, receive, send)


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")


def host_key(name: str) -> str:
    """A host as compared: lower case, no trailing dot, an IP address in its short form."""
    name = name.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def host_of(header: str) -> str:
    """The host of a Host header: «127.0.0.1:8000» -> 127.0.0.1, «[::1]:8000» -> ::1."""
    if header.startswith("["):
        return host_key(header.partition("]")[0])
    name, colon, port = header.rpartition(":")
    return host_key(name if colon and port.isdigit() else header)


class AllowedHosts:
    """Only requests whose Host names this server are answered: loopback names, the address it
    listens on and the configured names (RAG_API__ALLOWED_HOSTS). A web page on another site
    that a DNS rebinding points at 127.0.0.1 sends its own name as Host and is refused, so it
    cannot read the documents through the user's browser."""

    def __init__(self, app: ASGIApp, hosts: tuple[str, ...]) -> None:
        self.app = app
        self.any = "*" in hosts
        self.allowed = frozenset(host_key(h) for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.any:
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        if host_of(header) in self.allowed:
            await self.app(scope, receive, send)
            return
        detail = (
            "Vertsnavnet i Host-headeren er ikke et API-et svarer på. Bruk 127.0.0.1 eller "
            "localhost, eller legg navnet til i RAG_API__ALLOWED_HOSTS."
        )
        for message in json_response(400, detail, close=True):
            await send(message)


def allowed_hosts(listen_on: str, configured: tuple[str, ...]) -> tuple[str, ...]:
    """Loopback names, the address the server listens on (unless it listens on all) and the
    configured names."""
    own = () if host_key(listen_on) in map(host_key, WILDCARD_ADDRESSES) else (listen_on,)
    return (*LOOPBACK_HOSTS, *own, *configured)
