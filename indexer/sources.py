"""Load source files (txt, md, html, pdf, docx) into raw page texts.

This is the first stage of the indexer: `discover` turns the paths a user names into a list of
files to load plus the files it had to skip, and a `FileReader` reads each file into a
`RawDocument` within the bounds of SourceSettings (how each format is read: indexer/formats.py).
Nothing is cleaned here; that happens in the next stage.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer.formats import (
    SUPPORTED_SUFFIXES,
    Budget,
    SourceFormat,
    too_big,
    too_much_text,
)
from indexer.isolation import IsolatedExtractor
from indexer.metadata import METADATA_FILE_NAME
from rag.cleaning import plain_line, shown
from rag.config import SourceSettings
from rag.errors import SourceError
from rag.types import SkippedFile

logger = logging.getLogger(__name__)

MAX_UTF8_BYTES = 4  # bytes per character, at most


@dataclass(frozen=True)
class RawDocument:
    path: Path
    source: str  # the file name (path.name), cleaned as document text is (rag/cleaning.py)
    pages: tuple[str, ...]  # raw text per page; one element for non-PDF formats
    paged: bool  # True for PDF (page numbers are meaningful)
    content_hash: str  # sha256 hex of the file's bytes


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


class FileReader:
    """Reads source files within the bounds of SourceSettings: a file larger than a bound
    allows is refused before it is read, text is counted as it is extracted, and PDF, DOCX
    and HTML are parsed in a child process stopped after `max_seconds` (indexer/isolation.py;
    started on the first such file, so a corpus of text files never starts one)."""

    def __init__(self, limits: SourceSettings) -> None:
        self.limits = limits
        self._isolated = IsolatedExtractor(limits)

    def __enter__(self) -> FileReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._isolated.close()

    def load(self, path: Path) -> RawDocument:
        """Read one source file into raw page texts; raise SourceError saying why it cannot be."""
        suffix = path.suffix.lower()
        fmt = SUPPORTED_SUFFIXES.get(suffix)
        if fmt is None:
            raise SourceError(unsupported_reason(path))
        data = self.read_bytes(path, fmt)
        if fmt.isolated:
            pages = self._isolated.extract(suffix, data)
        else:
            pages = fmt.extract(data, Budget(self.limits))
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

    def read_bytes(self, path: Path, fmt: SourceFormat) -> bytes:
        """The file's bytes, unless its size alone is past a bound: a text file of more than
        four bytes per allowed character (UTF-8's most), any file larger than it may unpack to."""
        try:
            size = path.stat().st_size
            if not fmt.isolated and size > MAX_UTF8_BYTES * self.limits.max_text_chars:
                raise SourceError(too_much_text(self.limits))
            if size > self.limits.max_decompressed_bytes:
                raise SourceError(too_big(self.limits))
            data = path.read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read file ({exc.strerror or exc})") from exc
        if not data:
            raise SourceError("empty file (0 bytes)")
        return data


def load_file(path: Path, limits: SourceSettings | None = None) -> RawDocument:
    """One file read on its own (a child process of its own for PDF, DOCX and HTML); a build
    reads its files with one `FileReader`."""
    with FileReader(limits or SourceSettings()) as reader:
        return reader.load(path)
