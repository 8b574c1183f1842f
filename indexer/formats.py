"""How each source format's bytes become page texts, within the bounds of SourceSettings.

Text and Markdown are decoded; HTML, PDF and DOCX are parsed (in a child process with a time
bound, indexer/isolation.py). Every extractor counts what it produces against a `Budget`: the
characters of text (`max_text_chars`) and the bytes it unpacks (`max_decompressed_bytes`), each
checked before the work it bounds (a DOCX's declared zip sizes before it is unpacked, a PDF
page's content streams before the page is parsed). A file past a bound raises SourceError
naming the setting; nothing is cut short silently.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from types import MappingProxyType

import docx
from docx.table import Table
from pypdf import PageObject, PdfReader
from pypdf.generic import ArrayObject, PdfObject, StreamObject

from rag.config import SourceSettings
from rag.errors import SourceError

logger = logging.getLogger(__name__)


@dataclass
class Budget:
    """What one file may still cost: characters of text and bytes unpacked (SourceSettings)."""

    limits: SourceSettings
    chars: int = 0
    unpacked: int = 0

    def text(self, text: str) -> str:
        """`text`, counted against max_text_chars."""
        self.chars += len(text)
        if self.chars > self.limits.max_text_chars:
            raise SourceError(too_much_text(self.limits))
        return text

    def unpack(self, size: int) -> None:
        """`size` more bytes unpacked, counted against max_decompressed_bytes."""
        self.unpacked += size
        if self.unpacked > self.limits.max_decompressed_bytes:
            raise SourceError(too_big(self.limits))


def too_much_text(limits: SourceSettings) -> str:
    return (
        f"more than {limits.max_text_chars:,} characters of text "
        "(RAG_SOURCES__MAX_TEXT_CHARS); not indexed"
    )


def too_big(limits: SourceSettings) -> str:
    return (
        f"more than {limits.max_decompressed_bytes:,} bytes once unpacked "
        "(RAG_SOURCES__MAX_DECOMPRESSED_BYTES); not read"
    )


@dataclass(frozen=True)
class SourceFormat:
    """How to turn a file's bytes into page texts within a budget."""

    extract: Callable[[bytes, Budget], tuple[str, ...]]
    paged: bool = False
    # read in a child process that is stopped after max_seconds (indexer/isolation.py): its
    # parser's time is not bounded by the file's size
    isolated: bool = True


# ---------------------------------------------------------------------------------------------
# Plain text


_ALLOWED_CONTROLS = frozenset("\n\r\t")


def _has_stray_controls(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in text)


def decode_text(data: bytes) -> str:
    """Decode text bytes as UTF-8 (BOM allowed), or as cp1252 when that decodes cleanly."""
    if b"\x00" in data:
        raise SourceError("binary content (NUL bytes) in a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    invalid = SourceError(
        f"not valid UTF-8 text (invalid byte 0x{data[utf8_error.start]:02x} "
        f"at offset {utf8_error.start})"
    )
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise invalid from utf8_error
    if _has_stray_controls(text):
        raise invalid from utf8_error
    logger.warning("not valid UTF-8; decoded as cp1252 (Windows-1252) instead")
    return text


def _extract_text(data: bytes, budget: Budget) -> tuple[str, ...]:
    return (budget.text(decode_text(data)),)


# ---------------------------------------------------------------------------------------------
# HTML

_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template"})
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "dd", "details",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
        "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
        "section", "summary", "table", "tbody", "tfoot", "thead", "title", "tr", "ul",
    }
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_WHITESPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextCollector(HTMLParser):
    """Collects visible text; block elements become line breaks, cells become tabs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self._pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag == "br" or tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _CELL_TAGS:
            self.parts.append("\t")
        if tag == "pre":
            self._pre_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        self.parts.append(data if self._pre_depth else _WHITESPACE.sub(" ", data))


def html_to_text(html: str) -> str:
    """Visible text of an HTML page, one line per block element, entities unescaped."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = (line.strip(" \t") for line in "".join(collector.parts).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


def _extract_html(data: bytes, budget: Budget) -> tuple[str, ...]:
    return (budget.text(html_to_text(decode_text(data))),)


# ---------------------------------------------------------------------------------------------
# PDF and DOCX. Both parsers raise many exception types on malformed input (PdfReadError,
# BadZipFile, KeyError, ValueError, ...), so each parse is wrapped in one broad handler that
# turns whatever it raises into a SourceError naming the cause.


def _extract_pdf(data: bytes, budget: Budget) -> tuple[str, ...]:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise SourceError("PDF is password protected")
        pages: list[str] = []
        for page in reader.pages:
            budget.unpack(content_bytes(page))  # before the page is parsed, not after
            pages.append(budget.text(page.extract_text() or ""))
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    if not pages:
        raise SourceError("PDF has no pages")
    if not any(page.strip() for page in pages):
        raise SourceError("PDF has no text layer (scanned?)")
    return tuple(pages)


def content_bytes(page: PageObject) -> int:
    """The bytes text extraction unpacks and parses for `page`: its content streams and the
    form XObjects its resources hold (nested ones too), each counted once per page. A stream
    that many pages share is counted on every page, as it is parsed on every page."""
    streams: list[StreamObject] = []
    contents = resolved(page.get("/Contents"))
    for item in contents if isinstance(contents, ArrayObject) else [contents]:
        stream = resolved(item)
        if isinstance(stream, StreamObject):
            streams.append(stream)
    seen: set[int] = set()
    pending = [page.get("/Resources")]
    while pending:
        resources = resolved(pending.pop())
        xobjects = resolved(resources.get("/XObject")) if isinstance(resources, dict) else None
        for item in xobjects.values() if isinstance(xobjects, dict) else ():
            form = resolved(item)
            if not isinstance(form, StreamObject) or form.get("/Subtype") != "/Form":
                continue  # an image: text extraction does not unpack it
            if id(form) not in seen:
                seen.add(id(form))
                streams.append(form)
                pending.append(form.get("/Resources"))
    return sum(len(stream.get_data()) for stream in streams)


def resolved(item: object) -> object:
    """A PDF object with indirect references followed."""
    return item.get_object() if isinstance(item, PdfObject) else item


def _table_lines(table: Table) -> list[str]:
    lines: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            # A merged cell is returned once per grid column it spans; keep it once.
            if text and (not cells or cells[-1] != text):
                cells.append(text)
        if cells:
            lines.append("\t".join(cells))
    return lines


def _extract_docx(data: bytes, budget: Budget) -> tuple[str, ...]:
    try:
        # What the zip declares is what zipfile unpacks at most (more fails its CRC check),
        # so a zip bomb is refused before python-docx unpacks and parses anything.
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            budget.unpack(sum(member.file_size for member in archive.infolist()))
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        for block in document.iter_inner_content():
            found = _table_lines(block) if isinstance(block, Table) else [block.text]
            lines.extend(budget.text(line) for line in found)
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(f"corrupt or unreadable DOCX ({type(exc).__name__}: {exc})") from exc
    return ("\n".join(lines),)


# ---------------------------------------------------------------------------------------------
# Public API

SUPPORTED_SUFFIXES: Mapping[str, SourceFormat] = MappingProxyType(
    {
        ".txt": SourceFormat(_extract_text, isolated=False),  # decoding is linear in the size
        ".md": SourceFormat(_extract_text, isolated=False),
        ".html": SourceFormat(_extract_html),
        ".htm": SourceFormat(_extract_html),
        ".pdf": SourceFormat(_extract_pdf, paged=True),
        ".docx": SourceFormat(_extract_docx),
    }
)


def extract_pages(suffix: str, data: bytes, limits: SourceSettings) -> tuple[str, ...]:
    """The page texts of a file of this type, within `limits` (no time bound: isolation.py)."""
    return SUPPORTED_SUFFIXES[suffix].extract(data, Budget(limits))
