"""Answers and matrices as downloads: CSV, XLSX, DOCX and Markdown (pure functions -> bytes).

Every row or paragraph carries the submitter, its type, the document, section, page, the
verbatim quote and its offsets, so an analyst can check each quote against the document text.
Quotes are written exactly; the only changes ever made are for characters the file format cannot
hold at all (C0 control characters in XLSX and DOCX become U+FFFD) and, in CSV, the apostrophe
that keeps a cell beginning with =, +, -, @, a tab or a carriage return from being read as a
formula (rag/csv_cells.py; XLSX stores every text cell as text).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from typing import Literal

from docx import Document as new_docx
from docx.document import Document as DocxDocument
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from rag.contract import count_line
from rag.csv_cells import text_cell
from rag.matrix import Matrix, MatrixCell
from rag.types import Answer, Citation

ExportFormat = Literal["json", "csv", "xlsx", "docx", "md"]
DownloadFormat = Literal["csv", "xlsx", "docx", "md"]
DOWNLOAD_FORMATS: tuple[DownloadFormat, ...] = ("csv", "xlsx", "docx", "md")
CONTENT_TYPES: dict[DownloadFormat, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "md": "text/markdown; charset=utf-8",
}
QUOTE_STYLE = "Quote"
MARKS = {"high": "●", "low": "◐", "none": ""}
CONFIDENCE_LABELS = {"high": "sikker", "low": "usikker", "none": ""}

ANSWER_COLUMNS = (
    "spørsmål", "nr", "innsender", "type", "dokument", "kilde", "seksjon", "side",
    "sitat", "start", "slutt", "score",
)  # fmt: skip
MATRIX_COLUMNS = (
    "tema", "innsender", "type", "dokument", "kilde", "omtalt", "sikkerhet", "seksjon",
    "side", "sitat", "start", "slutt", "score",
)  # fmt: skip

Cell = str | int | float | None
Row = tuple[Cell, ...]

_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MARKDOWN_INLINE = re.compile(r"([\\`*_{}\[\]<>#|~!])")
_MARKDOWN_LINE_START = re.compile(r"^(\s*)([-+=])", re.MULTILINE)
_MARKDOWN_NUMBERED = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)
_SLUG_LETTERS = str.maketrans({"æ": "ae", "ø": "o", "å": "a"})
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


# --- rows -----------------------------------------------------------------------------------


def answer_rows(answer: Answer) -> list[Row]:
    return [
        (answer.question, c.n, c.submitter, c.submitter_type, c.document_id, c.source,
         c.section, c.page, c.quote, c.start, c.end, c.score)
        for c in answer.citations
    ]  # fmt: skip


def matrix_rows(matrix: Matrix) -> list[Row]:
    """One row per cell; a cell that is not mentioned has no quote, section or offsets."""
    rows: list[Row] = []
    for cell in matrix.cells:
        doc, q = cell.document, cell.quote
        rows.append(
            (cell.topic, doc.submitter, doc.submitter_type, doc.document_id, doc.source,
             "ja" if cell.mentioned else "nei", CONFIDENCE_LABELS[cell.confidence],
             q.section if q else None, q.page if q else None, q.quote if q else None,
             q.start if q else None, q.end if q else None, cell.score)
        )  # fmt: skip
    return rows


# --- CSV ------------------------------------------------------------------------------------


def to_csv(columns: Sequence[str], rows: Sequence[Row]) -> bytes:
    """UTF-8 with a byte order mark, so Excel shows æøå; a text cell that a spreadsheet would
    read as a formula gets a leading apostrophe (rag/csv_cells.py)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def csv_cell(value: Cell) -> str | int | float:
    if value is None:
        return ""
    return text_cell(value) if isinstance(value, str) else value


# --- XLSX -----------------------------------------------------------------------------------


def to_xlsx(sheets: Sequence[tuple[str, Sequence[str], Sequence[Row]]]) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    for title, columns, rows in sheets:
        sheet = workbook.create_sheet(title)
        append_row(sheet, columns)
        for row in rows:
            append_row(sheet, row)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def append_row(sheet: Worksheet, values: Sequence[Cell]) -> None:
    """Text is stored as text: a quote starting with «=» is never read as a formula."""
    sheet.append([xml_safe(v) if isinstance(v, str) else v for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def matrix_grid(matrix: Matrix) -> tuple[list[str], list[Row]]:
    """Submitters down, topics across, a mark where the topic is mentioned."""
    columns = ["innsender", "type", *matrix.topics]
    rows: list[Row] = []
    for doc in matrix.submitters:
        marks = [MARKS[matrix.cell(t, doc.document_id).confidence] for t in matrix.topics]
        rows.append((doc.submitter, doc.submitter_type, *marks))
    return columns, rows


def matrix_count_rows(matrix: Matrix) -> list[Row]:
    return [(c.topic, c.submitter_type, c.mentioned, c.total) for c in matrix.counts]


# --- DOCX -----------------------------------------------------------------------------------


def add_quote(docx: DocxDocument, citation: Citation, number: int) -> None:
    """The quote as a block quote (its text exactly), then where it comes from."""
    docx.add_paragraph(xml_safe(citation.quote), style=QUOTE_STYLE)
    docx.add_paragraph(xml_safe(f"[{number}] {place(citation)}"))


def add_sources(docx: DocxDocument, citations: Sequence[Citation]) -> None:
    docx.add_heading("Kilder", level=1)
    for number, citation in enumerate(citations, start=1):
        line = f"[{number}] {citation.submitter} ({citation.submitter_type}), {place(citation)}"
        docx.add_paragraph(xml_safe(line), style="List Number")


def place(citation: Citation) -> str:
    parts = [
        f"dokument {citation.source} ({citation.document_id})",
        f"seksjon «{citation.section}»" if citation.section else "",
        f"side {citation.page}" if citation.page is not None else "",
        f"tegn {citation.start}–{citation.end}",
    ]
    return ", ".join(p for p in parts if p)


def docx_bytes(docx: DocxDocument) -> bytes:
    out = io.BytesIO()
    docx.save(out)
    return out.getvalue()


def answer_docx(answer: Answer) -> bytes:
    docx = new_docx()
    docx.add_heading("Svar fra høringsinnspillene", level=0)
    docx.add_heading(xml_safe(answer.question), level=1)
    docx.add_paragraph(xml_safe(lead_of(answer)))
    for submitter, citations in by_submitter(answer.citations):
        docx.add_heading(xml_safe(submitter), level=2)
        for citation in citations:
            add_quote(docx, citation, citation.n)
    if answer.citations:
        add_sources(docx, answer.citations)
    return docx_bytes(docx)


def matrix_docx(matrix: Matrix) -> bytes:
    docx = new_docx()
    docx.add_heading("Oversikt: temaer og innsendere", level=0)
    cited: list[Citation] = []
    for topic in matrix.topics:
        docx.add_heading(xml_safe(topic), level=1)
        docx.add_paragraph(xml_safe(count_line(matrix.counts, topic) + " omtaler temaet."))
        cells = [matrix.cell(topic, d.document_id) for d in matrix.submitters]
        for cell in (c for c in cells if c.quote):
            assert cell.quote is not None
            docx.add_heading(xml_safe(submitter_label(cell)), level=2)
            cited.append(cell.quote)
            add_quote(docx, cell.quote, len(cited))
        silent = [c.document.submitter for c in cells if not c.mentioned]
        if silent:
            docx.add_paragraph(xml_safe("Omtaler ikke temaet: " + ", ".join(silent) + "."))
    if cited:
        add_sources(docx, cited)
    return docx_bytes(docx)


def submitter_label(cell: MatrixCell) -> str:
    doc = cell.document
    unsure = " – usikker" if cell.confidence == "low" else ""
    return f"{doc.submitter} ({doc.submitter_type}){unsure}"


def lead_of(answer: Answer) -> str:
    """The answer's first paragraph (the lead line, or the no-answer message)."""
    return answer.answer.split("\n\n", 1)[0]


def by_submitter(citations: Sequence[Citation]) -> list[tuple[str, list[Citation]]]:
    groups: dict[str, list[Citation]] = {}
    for citation in citations:
        label = f"{citation.submitter} ({citation.submitter_type})"
        groups.setdefault(label, []).append(citation)
    return list(groups.items())


# --- Markdown -------------------------------------------------------------------------------


def md_literal(text: str) -> str:
    """Markdown that shows `text` as written: markup characters backslash-escaped, and a
    line that would start a list or heading made to start with an escaped character."""
    escaped = _MARKDOWN_INLINE.sub(r"\\\1", text)
    escaped = _MARKDOWN_LINE_START.sub(r"\1\\\2", escaped)
    return _MARKDOWN_NUMBERED.sub(r"\1\\\2", escaped)


def md_quote(citation: Citation, number: int) -> str:
    body = "\n".join(f"> {md_literal(line)}".rstrip() for line in citation.quote.split("\n"))
    return f"{body}\n\n[{number}] {md_literal(place(citation))}"


def md_sources(citations: Sequence[Citation]) -> str:
    lines = [
        f"{n}. {md_literal(f'{c.submitter} ({c.submitter_type}), {place(c)}')}"
        for n, c in enumerate(citations, start=1)
    ]
    return "## Kilder\n\n" + "\n".join(lines)


def answer_md(answer: Answer) -> str:
    parts = [f"# {md_literal(answer.question)}", md_literal(lead_of(answer))]
    for submitter, citations in by_submitter(answer.citations):
        parts.append(f"## {md_literal(submitter)}")
        parts.extend(md_quote(c, c.n) for c in citations)
    if answer.citations:
        parts.append(md_sources(answer.citations))
    return "\n\n".join(parts) + "\n"


def matrix_md(matrix: Matrix) -> str:
    parts = ["# Oversikt: temaer og innsendere"]
    cited: list[Citation] = []
    for topic in matrix.topics:
        parts.append(f"## {md_literal(topic)}")
        parts.append(md_literal(count_line(matrix.counts, topic) + " omtaler temaet."))
        cells = [matrix.cell(topic, d.document_id) for d in matrix.submitters]
        for cell in cells:
            if cell.quote is not None:
                cited.append(cell.quote)
                parts.append(f"### {md_literal(submitter_label(cell))}")
                parts.append(md_quote(cell.quote, len(cited)))
        silent = [c.document.submitter for c in cells if not c.mentioned]
        if silent:
            parts.append(md_literal("Omtaler ikke temaet: " + ", ".join(silent) + "."))
    if cited:
        parts.append(md_sources(cited))
    return "\n\n".join(parts) + "\n"


# --- entry points ---------------------------------------------------------------------------


def export_answer(answer: Answer, fmt: DownloadFormat) -> bytes:
    writers: dict[DownloadFormat, Callable[[], bytes]] = {
        "csv": lambda: to_csv(ANSWER_COLUMNS, answer_rows(answer)),
        "xlsx": lambda: to_xlsx([("Sitater", ANSWER_COLUMNS, answer_rows(answer))]),
        "docx": lambda: answer_docx(answer),
        "md": lambda: answer_md(answer).encode("utf-8"),
    }
    return writers[fmt]()


def export_matrix(matrix: Matrix, fmt: DownloadFormat) -> bytes:
    def xlsx() -> bytes:
        grid_columns, grid_rows = matrix_grid(matrix)
        return to_xlsx(
            [
                ("Oversikt", grid_columns, grid_rows),
                ("Sitater", MATRIX_COLUMNS, matrix_rows(matrix)),
                ("Antall", ("tema", "type", "omtaler", "av"), matrix_count_rows(matrix)),
            ]
        )

    writers: dict[DownloadFormat, Callable[[], bytes]] = {
        "csv": lambda: to_csv(MATRIX_COLUMNS, matrix_rows(matrix)),
        "xlsx": xlsx,
        "docx": lambda: matrix_docx(matrix),
        "md": lambda: matrix_md(matrix).encode("utf-8"),
    }
    return writers[fmt]()


def file_name(prefix: str, title: str, fmt: DownloadFormat) -> str:
    """An ASCII file name: «svar-hva-sier-kommunene-om-fastlegeordningen.docx»."""
    slug = _NOT_SLUG.sub("-", title.lower().translate(_SLUG_LETTERS)).strip("-")[:60].strip("-")
    return f"{prefix}-{slug}.{fmt}" if slug else f"{prefix}.{fmt}"


def content_disposition(name: str) -> str:
    return f'attachment; filename="{name}"'


def xml_safe(text: str) -> str:
    """Text an XML file can hold: control characters other than tab and newlines -> U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)
