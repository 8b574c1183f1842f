"""The export lane (rag/export_lane.py): one export at a time, a bounded queue, decisions that
give way to questions, the file written by a child process; and the recent matrices a download
reuses (rag/matrix.py)."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Callable

import pytest
from openpyxl import load_workbook

from rag.export import export_matrix
from rag.export_lane import (
    CountQuestions,
    ExportBusy,
    ExportFailed,
    ExportLane,
    QuestionTraffic,
    slim,
)
from rag.matrix import Matrix, RecentMatrices, matrix_of
from rag.types import NO_FILTERS, Citation, Document, Filters, SubmitterDecision

TEXT = "Innspill fra Ås kommune.\n=SUM(A1) Fastlegeordningen må styrkes nå.\n"
QUOTE = "=SUM(A1) Fastlegeordningen må styrkes nå."


def small_matrix() -> Matrix:
    docs = [
        Document(f"d{n}", f"d{n}.txt", f"Kommune {n}", "kommune", "T", TEXT, "h") for n in range(3)
    ]
    start = TEXT.index(QUOTE)

    def decision(doc: Document) -> SubmitterDecision:
        quote = Citation(1, doc.document_id, doc.source, doc.submitter, doc.submitter_type,
                         None, None, QUOTE, start, start + len(QUOTE), 0.9)  # fmt: skip
        return SubmitterDecision(doc, "high" if doc.document_id != "d2" else "none", (quote,), 0.9)

    return matrix_of(("fastlegeordningen",), [[decision(d) for d in docs]])


def in_thread(work: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


# --- the queue -------------------------------------------------------------------------------


def test_one_export_at_a_time_and_one_too_many_is_refused_at_once() -> None:
    lane = ExportLane(QuestionTraffic(), waiting=1)
    release = threading.Event()
    working = threading.Event()
    order: list[str] = []

    def first() -> None:
        with lane.turn():
            working.set()
            order.append("first starts")
            release.wait(5)
            order.append("first ends")

    def second() -> None:
        with lane.turn():
            order.append("second starts")

    threads = [in_thread(first)]
    assert working.wait(5)
    threads.append(in_thread(second))  # waits for its turn
    time.sleep(0.1)
    started = time.perf_counter()
    with pytest.raises(ExportBusy), lane.turn():  # a third: as many wait as may
        pass
    assert time.perf_counter() - started < 0.5  # refused at once, not queued
    release.set()
    for thread in threads:
        thread.join(5)
    assert order == ["first starts", "first ends", "second starts"]
    with lane.turn():  # the places are given back
        pass


# --- giving way to questions -----------------------------------------------------------------


def test_an_export_waits_while_a_question_is_answered_and_not_longer() -> None:
    traffic = QuestionTraffic()
    lane = ExportLane(traffic, patience=5.0, share=1.0)
    answered = threading.Event()

    def question() -> None:
        with traffic.question():
            answered.wait(5)

    with lane.turn():
        time.sleep(1.0)  # a piece of work of a second: the export may wait as long
        thread = in_thread(question)
        time.sleep(0.05)
        assert traffic.answering == 1
        timer = threading.Timer(0.1, answered.set)
        timer.start()
        started = time.perf_counter()
        lane.give_way()  # returns when the question is answered
        waited = time.perf_counter() - started
        assert 0.05 < waited < 0.6, waited
        thread.join(5)
        assert traffic.answering == 0
        started = time.perf_counter()
        lane.give_way()  # nobody asking: no wait
        assert time.perf_counter() - started < 0.05


def test_a_stream_of_questions_delays_an_export_by_at_most_the_work_it_did() -> None:
    traffic = QuestionTraffic()
    lane = ExportLane(traffic, patience=5.0, share=1.0)
    stop = threading.Event()

    def questions() -> None:
        with traffic.question():
            stop.wait(5)

    thread = in_thread(questions)
    time.sleep(0.05)
    with lane.turn():
        time.sleep(0.2)
        started = time.perf_counter()
        lane.give_way()
        waited = time.perf_counter() - started
    stop.set()
    thread.join(5)
    assert 0.15 < waited < 0.45, waited  # as long as the 0.2 s of work, then on


def test_requests_to_question_paths_are_counted_while_they_are_answered() -> None:
    traffic = QuestionTraffic()
    seen: list[int] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        seen.append(traffic.answering)

    middleware = CountQuestions(app, traffic)  # type: ignore[arg-type]
    for path in ("/ask", "/search", "/compare", "/matrix", "/documents"):
        asyncio.run(middleware({"type": "http", "path": path}, None, None))  # type: ignore[arg-type]
    assert seen == [1, 1, 1, 0, 0]
    assert traffic.answering == 0


# --- the child process -----------------------------------------------------------------------


def test_the_child_writes_the_same_file_without_the_document_texts() -> None:
    matrix = small_matrix()
    assert all(not d.text for d in slim(matrix).submitters)
    lane = ExportLane(QuestionTraffic())
    for fmt in ("csv", "md"):
        assert lane.write(matrix, fmt) == export_matrix(matrix, fmt)
    book = load_workbook(io.BytesIO(lane.write(matrix, "xlsx")))
    rows = list(book["Sitater"].iter_rows(values_only=True))
    assert rows[1][rows[0].index("sitat")] == QUOTE  # a formula-like quote stays text
    assert book["Sitater"].cell(row=2, column=rows[0].index("sitat") + 1).data_type == "s"


def test_a_child_that_runs_out_of_time_is_stopped() -> None:
    lane = ExportLane(QuestionTraffic(), seconds=0.01)
    with pytest.raises(ExportFailed, match="innen"):
        lane.write(small_matrix(), "docx")


# --- the recent matrices ---------------------------------------------------------------------


def test_a_matrix_just_made_is_reused_by_the_same_service_only() -> None:
    recent = RecentMatrices(size=2)
    made: list[tuple[str, ...]] = []
    service, reloaded = object(), object()

    def make(topics: tuple[str, ...]) -> Callable[[], Matrix]:
        def build() -> Matrix:
            made.append(topics)
            return small_matrix()

        return build

    first = recent.get(service, ("a",), NO_FILTERS, make(("a",)))
    again = recent.get(service, ("a",), NO_FILTERS, make(("a",)))
    assert made == [("a",)] and again.cells == first.cells
    assert again.timings_ms["reused"] == 1.0
    recent.get(service, ("a",), Filters(submitter_type=("kommune",)), make(("a", "kommune")))
    recent.get(reloaded, ("a",), NO_FILTERS, make(("a", "reloaded")))
    assert made == [("a",), ("a", "kommune"), ("a", "reloaded")]
    recent.get(service, ("a",), NO_FILTERS, make(("a", "evicted")))  # only two are kept
    assert made[-1] == ("a", "evicted")
