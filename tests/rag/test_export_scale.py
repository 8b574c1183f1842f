"""The downloads of a matrix grow linearly with it and do little per row. Asking openpyxl for
`max_row` after each row made XLSX quadratic, and python-docx looked each paragraph's style up
among all styles: 30 topics on 300 submissions took 70 s (XLSX) and 14 s (DOCX)."""

from __future__ import annotations

import io
import time

import pytest
from docx import Document as open_docx
from docx.styles.style import BaseStyle
from docx.styles.styles import Styles
from openpyxl import load_workbook

from rag.export import DownloadFormat, export_matrix
from rag.matrix import Matrix, matrix_of
from rag.types import Citation, Document, SubmitterDecision

TOPICS = ("fastlegeordningen", "legevakt", "rehabilitering", "barn og unge", "tannhelse")
QUOTE = "Kommunen mener at fastlegeordningen må styrkes med flere hjemler og bedre rammer."
SUBMITTERS = 150  # the large matrix has four times as many


def submission(n: int) -> Document:
    text = f"Innspill fra kommune {n}.\n{QUOTE}\n"
    return Document(f"d{n}", f"d{n}.txt", f"Kommune {n}", "kommune", "T", text, "h")


def decision(doc: Document, mentioned: bool) -> SubmitterDecision:
    start = doc.text.index(QUOTE)
    quote = Citation(
        1, doc.document_id, doc.source, doc.submitter, doc.submitter_type, "Del 1", None,
        QUOTE, start, start + len(QUOTE), 0.9,
    )  # fmt: skip
    if not mentioned:
        return SubmitterDecision(doc, "none", (), 0.5)
    return SubmitterDecision(doc, "high", (quote,), 0.9)


def matrix_of_size(submitters: int) -> Matrix:
    docs = [submission(n) for n in range(submitters)]
    decisions = [
        [decision(doc, (n + t) % 3 != 0) for n, doc in enumerate(docs)] for t in range(len(TOPICS))
    ]
    return matrix_of(TOPICS, decisions)


def seconds(matrix: Matrix, fmt: DownloadFormat) -> float:
    """Best of three, in this process's CPU time (other work on the machine does not count)."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        export_matrix(matrix, fmt)
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize("fmt", ["xlsx", "docx"])
def test_four_times_the_cells_cost_about_four_times_the_work(fmt: DownloadFormat) -> None:
    small = seconds(matrix_of_size(SUBMITTERS), fmt)
    large = seconds(matrix_of_size(4 * SUBMITTERS), fmt)
    assert large < 8 * small, (small, large)  # linear: ~4 times; quadratic: ~16 times


def test_each_paragraph_style_is_looked_up_once_per_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """python-docx finds a style by name among all the template's styles; doing that for each of
    thousands of paragraphs was most of a report's time."""
    lookups: list[str] = []
    find = Styles.__getitem__

    def counted(styles: Styles, name: str) -> BaseStyle:
        lookups.append(name)
        style: BaseStyle = find(styles, name)
        return style

    monkeypatch.setattr(Styles, "__getitem__", counted)
    export_matrix(matrix_of_size(SUBMITTERS), "docx")
    assert sorted(lookups) == sorted(set(lookups))  # each style once, however many paragraphs
    assert {"Quote", "Heading 1", "Heading 2", "List Number"} <= set(lookups)


def test_a_large_matrix_is_written_whole() -> None:
    """Nothing is lost on the way: every cell is a row of «Sitater», every quote a block quote."""
    matrix = matrix_of_size(SUBMITTERS)
    mentioned = sum(c.mentioned for c in matrix.cells)
    book = load_workbook(io.BytesIO(export_matrix(matrix, "xlsx")), read_only=True)
    assert sum(1 for _ in book["Sitater"].iter_rows()) == len(matrix.cells) + 1
    assert sum(1 for _ in book["Oversikt"].iter_rows()) == len(matrix.submitters) + 1
    report = open_docx(io.BytesIO(export_matrix(matrix, "docx")))
    styled = [(p.style.name if p.style else None, p.text) for p in report.paragraphs]
    assert [text for style, text in styled if style == "Quote"] == [QUOTE] * mentioned
    assert sum(style == "List Number" for style, _ in styled) == mentioned
