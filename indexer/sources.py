"""Load source files (txt, md, html, pdf, docx) into raw page texts.

This is the first stage of the indexer: `discover` turns the paths a user names into a list of
files to load plus the files it had to skip, and `load_file` reads one file into a
`RawDocument`. Nothing is cleaned here; that happens in the next stage.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from types import MappingProxyType

import docx
from docx.table import Table
from pypdf import PdfReader

from indexer.metadata import METADATA_FILE_NAME
from rag.cleaning import plain_line, shown
from rag.errors import SourceError
from rag.types import SkippedFile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawDocument:
    path: Path
    source: str  # the file name (path.name), cleaned as document text is (rag/cleaning.py)
    pages: tuple[str, ...]  # raw text per page; one element for non-PDF formats
    paged: bool  # True for PDF (page numbers are meaningful)
    content_hash: str  # sha256 hex of the file's bytes


@dataclass(frozen=True)
class SourceFormat:
    """How to turn a file's bytes into page texts."""

    extract: Callable[[bytes], tuple[str, ...]]
    paged: bool = False


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


def _extract_text(data: bytes) -> tuple[str, ...]:
    return (decode_text(data),)


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


def _extract_html(data: bytes) -> tuple[str, ...]:
    return (html_to_text(decode_text(data)),)


# ---------------------------------------------------------------------------------------------
# PDF and DOCX. Both parsers raise many exception types on malformed input (PdfReadError,
# BadZipFile, KeyError, ValueError, ...), so each parse is wrapped in one broad handler that
# turns whatever it raises into a SourceError naming the cause.


def _extract_pdf(data: bytes) -> tuple[str, ...]:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise SourceError("PDF is password protected")
        pages = tuple(page.extract_text() or "" for page in reader.pages)
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    if not pages:
        raise SourceError("PDF has no pages")
    if not any(page.strip() for page in pages):
        raise SourceError("PDF has no text layer (scanned?)")
    return pages


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


def _extract_docx(data: bytes) -> tuple[str, ...]:
    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines.extend(_table_lines(block))
            else:
                lines.append(block.text)
    except Exception as exc:
        raise SourceError(f"corrupt or unreadable DOCX ({type(exc).__name__}: {exc})") from exc
    return ("\n".join(lines),)


# ---------------------------------------------------------------------------------------------
# Public API

SUPPORTED_SUFFIXES: Mapping[str, SourceFormat] = MappingProxyType(
    {
        ".txt": SourceFormat(_extract_text),
        ".md": SourceFormat(_extract_text),
        ".html": SourceFormat(_extract_html),
        ".htm": SourceFormat(_extract_html),
        ".pdf": SourceFormat(_extract_pdf, paged=True),
        ".docx": SourceFormat(_extract_docx),
    }
)


def unsupported_reason(path: Path) -> str:
    """Why `path` cannot be loaded, naming the suffixes that can."""
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
    suffix = shown(path.suffix) or "(none)"
    return f"unsupported file type '{suffix}' (supported: {supported})"


def shown_path(path: Path) -> str:
    """A path as reports and logs show it: bytes that are not UTF-8 and hidden or control
    characters escaped (rag/cleaning.py `shown`), so a skipped file can be found."""
    return shown(str(path))


def has_utf8_name(path: Path) -> bool:
    """False for a path whose bytes are not UTF-8 (Python holds them as surrogate escapes)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


NOT_UTF8_NAME = "file name is not valid UTF-8; rename the file to index it"


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def link_problem(path: Path, folder: Path) -> str | None:
    """Why the symbolic link `path` inside `folder` is not read, or None for a link to a file
    inside the folder (read as that file). A link must not take the indexer out of the folder
    the user named (a link to /etc/passwd would be indexed and served), and links to folders
    are not followed."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing target, or a loop of links
        return "broken symbolic link (its target does not exist)"
    if not target.is_relative_to(folder.resolve()):
        kind = "folder" if target.is_dir() else "file"
        return f"symbolic link to a {kind} outside the source folder; not read"
    if target.is_dir():
        return "symbolic link to a folder; not followed"
    return None


def _expand_folder(folder: Path) -> tuple[list[Path], list[SkippedFile]]:
    """The files in `folder` and below, and the entries that are not read, with the reason."""
    files: list[Path] = []
    skipped: list[SkippedFile] = []
    for path in sorted(folder.rglob("*")):
        if _is_hidden(path, folder):
            continue
        if path.name == METADATA_FILE_NAME:
            logger.debug("not a source document (read as metadata): %s", shown_path(path))
            continue
        problem = link_problem(path, folder) if path.is_symlink() else None
        if problem is None and path.is_dir():
            continue  # its files are listed by rglob
        if problem is None and not path.is_file():
            problem = "not a regular file (a pipe, socket or device)"
        if problem is None:
            files.append(path)
        else:
            logger.warning("not reading %s: %s", shown_path(path), problem)
            skipped.append(SkippedFile(path=shown_path(path), reason=problem))
    return files, skipped


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[SkippedFile]]:
    """Expand folders (recursively, sorted) and split the result into loadable and skipped files.

    Hidden files and metadata files inside folders are ignored; everything else that cannot be
    loaded is returned as a `SkippedFile` with the reason: among them symbolic links that leave
    the folder, point at folders or at nothing (`link_problem`). A file named twice is listed
    once.
    """
    found: list[Path] = []
    skipped: list[SkippedFile] = []
    seen: set[Path] = set()
    for given in paths:
        if not has_utf8_name(given):
            skipped.append(SkippedFile(path=shown_path(given), reason=NOT_UTF8_NAME))
            continue
        if given.is_dir():
            candidates, unread = _expand_folder(given)
            skipped.extend(unread)
        elif given.is_file():
            candidates = [given]
        else:
            reason = "file not found" if not given.exists() else "not a regular file"
            skipped.append(SkippedFile(path=shown_path(given), reason=reason))
            continue
        # a file and a link to it are one file, read under its own name
        for path in sorted(candidates, key=Path.is_symlink):
            key = path.resolve()
            if key in seen:
                continue
            seen.add(key)
            if not has_utf8_name(path):
                skipped.append(SkippedFile(path=shown_path(path), reason=NOT_UTF8_NAME))
            elif path.suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(path)
            else:
                skipped.append(SkippedFile(path=shown_path(path), reason=unsupported_reason(path)))
    logger.info("discovered %d source files, skipped %d", len(found), len(skipped))
    return found, skipped


def load_file(path: Path) -> RawDocument:
    """Read one source file into raw page texts; raise SourceError saying why it cannot be."""
    fmt = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise SourceError(unsupported_reason(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read file ({exc.strerror or exc})") from exc
    if not data:
        raise SourceError("empty file (0 bytes)")
    pages = fmt.extract(data)
    if not any(page.strip() for page in pages):
        raise SourceError("no extractable text")
    logger.debug("loaded %s: %d page(s), %d bytes", shown_path(path), len(pages), len(data))
    return RawDocument(
        path=path,
        source=plain_line(path.name),
        pages=pages,
        paged=fmt.paged,
        content_hash=hashlib.sha256(data).hexdigest(),
    )
