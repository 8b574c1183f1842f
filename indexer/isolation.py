"""Reading a source file in a child process that is stopped when its time is up.

A parser can take unbounded time on a hostile file (a PDF that makes every page re-parse one
huge stream; HTML that drives the standard parser into quadratic work), and a Python call
cannot be interrupted from outside. So PDF, DOCX and HTML are read by one child process, started
(with `spawn`, so it shares no threads or locks with this one) on the first such file of a build
and reused for the rest: the parent sends a file's bytes, waits at most
`SourceSettings.max_seconds` for its page texts, and on time-out kills the child, which is
started afresh for the next file. A child that dies (killed by the system for memory, say)
costs the file it was reading, not the build.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from rag.config import SourceSettings
from rag.errors import SourceError

log = logging.getLogger(__name__)

STARTUP_SECONDS = 120.0  # the child imports the parsers; a loaded machine can be slow
STOP_SECONDS = 5.0


def too_slow(limits: SourceSettings) -> str:
    return f"took more than {limits.max_seconds:g} s to read (RAG_SOURCES__MAX_SECONDS); not read"


class IsolatedExtractor:
    """Page texts of files, extracted by a child process within the time bound."""

    def __init__(self, limits: SourceSettings) -> None:
        self.limits = limits
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None

    def __enter__(self) -> IsolatedExtractor:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def extract(self, suffix: str, data: bytes) -> tuple[str, ...]:
        """The page texts of a file of this type; SourceError when it cannot be read, is too
        big once unpacked, or takes longer than `max_seconds`."""
        connection = self._started()
        connection.send((suffix, data))
        if not connection.poll(self.limits.max_seconds):
            self._stop()
            raise SourceError(too_slow(self.limits))
        try:
            status, value = connection.recv()
        except (EOFError, OSError) as exc:
            self._stop()
            raise SourceError("the reader stopped while reading it (out of memory?)") from exc
        if status != "ok":
            raise SourceError(str(value))
        pages: tuple[str, ...] = value
        return pages

    def _started(self) -> Connection:
        if self._connection is not None and self._process is not None:
            if self._process.is_alive():
                return self._connection
            self._stop()
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=serve, args=(child, self.limits), name="source-reader", daemon=True
        )
        process.start()
        child.close()
        self._process, self._connection = process, parent
        if not parent.poll(STARTUP_SECONDS) or parent.recv() != "ready":
            self._stop()
            raise SourceError("the file reader did not start")
        return parent

    def _stop(self) -> None:
        """Kill the child (it may be stuck in a parser) and forget it."""
        if self._process is not None:
            self._process.kill()
            self._process.join(STOP_SECONDS)
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None

    def close(self) -> None:
        """Let the child finish (it exits when told), or kill it."""
        if self._connection is not None:
            with contextlib.suppress(OSError):  # the child is gone already
                self._connection.send(None)
        if self._process is not None:
            self._process.join(STOP_SECONDS)
        self._stop()


def serve(connection: Connection, limits: SourceSettings) -> None:
    """The child: extract each file it is sent until told to stop (None) or the pipe closes."""
    from indexer.formats import extract_pages  # the parsers are imported in the child only

    connection.send("ready")
    while True:
        try:
            request: Any = connection.recv()
        except EOFError:
            return
        if request is None:
            return
        suffix, data = request
        try:
            connection.send(("ok", extract_pages(suffix, data, limits)))
        except SourceError as exc:
            connection.send(("error", str(exc)))
        except Exception as exc:  # a parser's own failure: the file, not the reader, is bad
            connection.send(("error", f"unreadable ({type(exc).__name__}: {exc})"))
