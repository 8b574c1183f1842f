"""Real PDF and DOCX source files written by the tests (fpdf2 and python-docx)."""

from __future__ import annotations

from pathlib import Path

import docx
from fpdf import FPDF


def write_pdf(path: Path, paragraphs: list[str]) -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    for paragraph in paragraphs:
        pdf.multi_cell(0, 6, paragraph)
        pdf.ln(6)
    path.write_bytes(bytes(pdf.output()))


def write_docx(path: Path, paragraphs: list[str]) -> None:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.save(str(path))
