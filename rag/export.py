"""Answers and matrices as downloads: CSV, XLSX, DOCX and Markdown (pure functions -> bytes).

Every row or paragraph carries the submitter, its type, the document, section, page, the
verbatim quote and its offsets, so an analyst can check each quote against the document text.
Quotes are written exactly; the only changes ever made are for characters the file format cannot
hold at all (C0 control characters in XLSX and DOCX become U+FFFD) and, in CSV, the apostrophe
that keeps a cell beginning with =, +, -, @, a tab or a carriage return from being read as a
formula (rag/csv_cells.py; XLSX stores every text cell as text).

Every writer does a constant amount of work per row or paragraph, so a file grows in time as it
grows in size: XLSX is written in openpyxl's write-only mode (rows streamed out, never looked up
again; asking a worksheet for `max_row` after each row made 30 topics on 300 submissions take
70 s), and DOCX paragraphs are appended to the body with their style ids resolved once per
document (python-docx looks a style up among all styles, and scans the body for the section
properties, on every paragraph it adds).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from typing import Literal, TypeAlias

from docx import Document as new_docx
from docx.document import Document as DocxDocument
from docx.oxml import OxmlElement
from docx.oxml.text.paragraph import CT_P
from openpyxl import Workbook
from openpyxl.cell import Cell as XlsxCell
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

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
    """A workbook written row by row in write-only mode: each row is streamed out once."""
    workbook = Workbook(write_only=True)
    for title, columns, rows in sheets:
        sheet = workbook.create_sheet(title)
        sheet.freeze_panes = "A2"  # before the first row: write-only sheets write views first
        sheet.append(xlsx_row(sheet, columns))
        for row in rows:
            sheet.append(xlsx_row(sheet, row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


XlsxValue: TypeAlias = XlsxCell | int | float | None


def xlsx_row(sheet: WriteOnlyWorksheet, values: Sequence[Cell]) -> list[XlsxValue]:
    return [xlsx_text(sheet, v) if isinstance(v, str) else v for v in values]


def xlsx_text(sheet: WriteOnlyWorksheet, text: str) -> XlsxCell:
    """Text stored as text: a quote starting with «=» is never read as a formula (openpyxl
    would make it one), and «#N/A» is not an error value."""
    cell = WriteOnlyCell(sheet, value=xml_safe(text))
    cell.data_type = "s"
    return cell


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


class Report:
    """A Word document written paragraph by paragraph, each in constant time.

    python-docx's `add_paragraph(style=…)` finds the style by name among all styles and the
    default style among them again, and inserts the paragraph by searching the body for its
    section properties: work that grows with the document on every paragraph. Here each style id
    is looked up once, and each paragraph is put straight before the section properties. The
    paragraphs are the ones python-docx makes: a `w:p` with its style and one run of the text
    (tabs and line breaks as python-docx writes them)."""

    def __init__(self) -> None:
        self.docx: DocxDocument = new_docx()
        self._style_ids: dict[str, str | None] = {}
        self._body = self.docx.element.body
        self._end = self._body.sectPr

    def paragraph(self, text: str, style: str | None = None) -> None:
        p = OxmlElement("w:p")
        assert isinstance(p, CT_P)
        if style is not None:
            p.style = self.style_id(style)
        if text:
            p.add_r().text = xml_safe(text)
        if self._end is None:
            self._body.append(p)
        else:
            self._end.addprevious(p)

    def heading(self, text: str, level: int) -> None:
        self.paragraph(text, "Title" if level == 0 else f"Heading {level}")

    def style_id(self, name: str) -> str | None:
        """The id of the paragraph style `name` (None for the default style, as python-docx)."""
        if name not in self._style_ids:
            style = self.docx.styles[name]
            default = self.docx.styles.default(style.type)
            self._style_ids[name] = None if default == style else style.style_id
        return self._style_ids[name]

    def content(self) -> bytes:
        out = io.BytesIO()
        self.docx.save(out)
        return out.getvalue()


def add_quote(report: Report, citation: Citation, number: int) -> None:
    """The quote as a block quote (its text exactly), then where it comes from."""
    report.paragraph(citation.quote, QUOTE_STYLE)
    report.paragraph(f"[{number}] {place(citation)}")


def add_sources(report: Report, citations: Sequence[Citation]) -> None:
    report.heading("Kilder", level=1)
    for number, citation in enumerate(citations, start=1):
        line = f"[{number}] {citation.submitter} ({citation.submitter_type}), {place(citation)}"
        report.paragraph(line, "List Number")


def place(citation: Citation) -> str:
    parts = [
        f"dokument {citation.source} ({citation.document_id})",
        f"seksjon «{citation.section}»" if citation.section else "",
        f"side {citation.page}" if citation.page is not None else "",
        f"tegn {citation.start}–{citation.end}",
    ]
    return ", ".join(p for p in parts if p)


def answer_docx(answer: Answer) -> bytes:
    report = Report()
    report.heading("Svar fra høringsinnspillene", level=0)
    report.heading(answer.question, level=1)
    report.paragraph(lead_of(answer))
    for submitter, citations in by_submitter(answer.citations):
        report.heading(submitter, level=2)
        for citation in citations:
            add_quote(report, citation, citation.n)
    if answer.citations:
        add_sources(report, answer.citations)
    return report.content()


def matrix_docx(matrix: Matrix) -> bytes:
    report = Report()
    report.heading("Oversikt: temaer og innsendere", level=0)
    cited: list[Citation] = []
    for topic in matrix.topics:
        report.heading(topic, level=1)
        report.paragraph(count_line(matrix.counts, topic) + " omtaler temaet.")
        cells = [matrix.cell(topic, d.document_id) for d in matrix.submitters]
        for cell in cells:
            if cell.quote is not None:
                report.heading(submitter_label(cell), level=2)
                cited.append(cell.quote)
                add_quote(report, cell.quote, len(cited))
        silent = [c.document.submitter for c in cells if not c.mentioned]
        if silent:
            report.paragraph("Omtaler ikke temaet: " + ", ".join(silent) + ".")
    if cited:
        add_sources(report, cited)
    return report.content()


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
