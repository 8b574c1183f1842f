"""Real PDF and DOCX source files written by the tests (fpdf2 and python-docx)."""

from __future__ import annotations

import struct
import zipfile
import zlib
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


def write_docx_bomb(path: Path, unpacked: int, declared: int | None = None) -> None:
    """A DOCX whose word/document.xml unpacks to about `unpacked` bytes (its paragraph followed
    by white space, which deflates to almost nothing); `declared` makes its zip entry claim
    another size, as a hand-made bomb's header may."""
    write_docx(path, ["Fastlegene har for mange pasienter."])
    with zipfile.ZipFile(path) as original:
        members = {info.filename: original.read(info) for info in original.infolist()}
    xml = members["word/document.xml"]
    padding = b" " * max(0, unpacked - len(xml))
    members["word/document.xml"] = xml.replace(b"</w:body>", padding + b"</w:body>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for name, data in members.items():
            bomb.writestr(name, data)
    if declared is not None:
        lie_about_size(path, "word/document.xml", declared)


def lie_about_size(path: Path, member: str, declared: int) -> None:
    """Make the zip's local and central headers of `member` declare `declared` bytes."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    central = data.find(b"PK\x01\x02")
    while central != -1:
        if data[central + 46 : central + 46 + len(name)] == name:
            struct.pack_into("<I", data, central + 24, declared)
            local = struct.unpack_from("<I", data, central + 42)[0]
            struct.pack_into("<I", data, local + 22, declared)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))


PAGE_TEXT = b"BT /F1 11 Tf 72 720 Td (Fastlegene har for mange pasienter i kommunen.) Tj ET\n"


def write_reused_stream_pdf(path: Path, pages: int, repeat: int) -> int:
    """A small PDF whose `pages` pages all draw one deflated content stream of `repeat` text
    operations: a parser re-reads the whole stream on every page. Returns the stream's size."""
    content = PAGE_TEXT * repeat
    stream = zlib.compress(content, 9)
    kids = " ".join(f"{5 + i} 0 R" for i in range(pages)).encode()
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        *[page] * pages,
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))
    return len(content)
