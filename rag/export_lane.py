"""Downloads made beside the questions, not in their way: one export at a time, its decisions
giving way to questions, its file written by a child process of lower priority.

Why: a report of 30 topics on 300 submissions is seconds of work in Python, and in the server's
process that work holds the interpreter lock every question needs (other users' /ask p50 went
from 107 to 650 ms while one was written). So a download of a matrix (`POST /matrix?format=`):

1. waits for its turn (`ExportLane.turn`): one export is made at a time and `waiting` more may
   wait; one beyond those is refused at once (503 with Retry-After), never queued without end;
2. has its decisions made in the server (they need the loaded index), topic by topic, and
   between two topics waits while questions are being answered (`QuestionTraffic`, counted by
   `CountQuestions` around /ask, /search and /compare), at most half as long as the topic took
   (`share`) and a quarter second (`patience`): while questions keep coming the export slows
   down by at most half, and never stops;
3. is written by `python -m rag.export_child`, a child process started for it at a lower CPU
   priority (nice 10): it reads the matrix (pickled, the document texts left out) on stdin and
   writes the file on stdout, and is killed when `seconds` have passed (503).

Measured with `python -m eval.bench_export` on the 300-submission stand-in (fake embedder, two
shared cores), 30 topics, XLSX: made alone in 2.5 s; while questions came one after another it
took 5.4 s, and their p50 went from 46 to 58 ms (not giving way: 4.4 s and 67 ms; giving way as
long as each topic took: 7.1 s and 56 ms). Before, in the request's thread with the quadratic
writer: 69 s alone, 305 s under the same load, and p50 101 -> 346 ms.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from rag.errors import RagError
from rag.export import DownloadFormat
from rag.matrix import Matrix
from rag.types import Answer, Document

log = logging.getLogger(__name__)

QUESTION_PATHS = frozenset({"/ask", "/search", "/compare"})
RETRY_AFTER_S = 10
PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the folder that holds `rag`


class ExportBusy(RagError):
    """As many exports as may wait are waiting already."""


class ExportFailed(RagError):
    """The child process that writes the file failed or ran out of time."""


# --- questions in flight ---------------------------------------------------------------------


class QuestionTraffic:
    """How many questions the server is answering at this moment."""

    def __init__(self) -> None:
        self._answering = 0
        self._changed = threading.Condition()

    @property
    def answering(self) -> int:
        return self._answering

    @contextlib.contextmanager
    def question(self) -> Iterator[None]:
        with self._changed:
            self._answering += 1
        try:
            yield
        finally:
            with self._changed:
                self._answering -= 1
                self._changed.notify_all()

    def wait_quiet(self, seconds: float) -> bool:
        """Wait until no question is being answered, at most `seconds`; True if none is."""
        with self._changed:
            return self._changed.wait_for(lambda: self._answering == 0, timeout=seconds)


class CountQuestions:
    """Pure ASGI middleware: every request to a question path counts while it is answered."""

    def __init__(self, app: ASGIApp, traffic: QuestionTraffic) -> None:
        self.app = app
        self.traffic = traffic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in QUESTION_PATHS:
            await self.app(scope, receive, send)
            return
        with self.traffic.question():
            await self.app(scope, receive, send)


# --- the lane --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportJob:
    """What the child writes: a matrix or an answer, in one format."""

    content: Matrix | Answer
    fmt: DownloadFormat


class ExportLane:
    """One export at a time, a bounded number waiting, the file written by a child process."""

    def __init__(
        self,
        traffic: QuestionTraffic,
        waiting: int = 4,
        seconds: float = 120.0,
        patience: float = 0.25,
        share: float = 0.5,
    ) -> None:
        self.traffic = traffic
        self.seconds = seconds
        self.patience = patience
        self.share = share
        self._places = threading.BoundedSemaphore(waiting + 1)  # the one at work and the waiting
        self._turn = threading.Lock()
        self._resumed = time.perf_counter()  # when the export at work last went on working

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the export's turn; ExportBusy at once when as many as may wait are waiting."""
        if not self._places.acquire(blocking=False):
            raise ExportBusy(
                "Det lages allerede så mange nedlastinger som tjenesten tar imot. "
                f"Prøv igjen om {RETRY_AFTER_S} sekunder."
            )
        try:
            with self._turn:
                self._resumed = time.perf_counter()
                yield
        finally:
            self._places.release()

    def give_way(self) -> None:
        """Between two pieces of an export's work: let the questions being answered finish,
        waiting at most as long as the piece just done took (and `patience`), so that while
        questions keep coming an export takes about half the time and still goes on."""
        worked = time.perf_counter() - self._resumed
        self.traffic.wait_quiet(min(worked * self.share, self.patience))
        self._resumed = time.perf_counter()

    def write(self, content: Matrix | Answer, fmt: DownloadFormat) -> bytes:
        """The file, written by a child process of lower priority within `seconds`."""
        job = ExportJob(slim(content) if isinstance(content, Matrix) else content, fmt)
        return run_child(job, self.seconds)


def slim(matrix: Matrix) -> Matrix:
    """The matrix without what no download shows (document texts, sections, shared text), so
    the child is sent kilobytes per submitter rather than the whole corpus."""
    documents = {d.document_id: bare(d) for d in matrix.submitters}
    cells = tuple(replace(c, document=documents[c.document.document_id]) for c in matrix.cells)
    return replace(matrix, submitters=tuple(documents.values()), cells=cells)


def bare(document: Document) -> Document:
    return replace(
        document, text="", sections=(), page_starts=(), near_duplicates=(), shared_text={}
    )


def child_environment() -> dict[str, str]:
    """This environment, with the folder holding `rag` first on the child's import path."""
    path = os.environ.get("PYTHONPATH")
    joined = str(PACKAGE_ROOT) if not path else os.pathsep.join([str(PACKAGE_ROOT), path])
    return {**os.environ, "PYTHONPATH": joined}


def run_child(job: ExportJob, seconds: float) -> bytes:
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "rag.export_child"],
            input=pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL),
            capture_output=True,
            timeout=seconds,
            env=child_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # subprocess.run has killed the child
        raise ExportFailed(f"Nedlastingen ble ikke ferdig innen {seconds:g} sekunder.") from exc
    if done.returncode != 0:
        log.error("export child failed (%d): %s", done.returncode, done.stderr[-2000:])
        raise ExportFailed("Nedlastingen kunne ikke lages; se tjenestens logg.")
    log.info("%s written in %.2f s", job.fmt, time.perf_counter() - started)
    return done.stdout
