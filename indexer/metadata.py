"""Who submitted each source: read from metadata.csv, or taken from an explicit sender line.

`read_metadata` reads the curated CSV (columns file,submitter,submitter_type,title).
`guess_metadata` is the fallback for files the CSV does not list. It never takes a name that is
merely mentioned in the text; it reads only the top of the document, in this order:

1. a title or opening line that says who it is from: «Høringssvar fra …», «Innspill til … fra …»,
   or a line that starts with «Fra …»;
2. a letterhead: a first line that is nothing but an organisation's name («Oslo kommune»,
   «Den norske legeforening»);
3. an opening sentence in which the sender speaks: «Stange kommune viser til …», «… takker for …».

Otherwise the submitter is the file name and its type «ukjent». The result's `origin` says which
(«avsenderlinje» or «filnavn»), so a build can list what was guessed and how.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from rag.cleaning import plain_line, shown
from rag.csv_cells import cell_text, text_cell
from rag.errors import SourceError
from rag.manifest import DocumentEntry
from rag.types import SubmitterOrigin

logger = logging.getLogger(__name__)

METADATA_FILE_NAME = "metadata.csv"
SUGGESTED_FILE_NAME = "metadata.suggested.csv"
METADATA_COLUMNS = ("file", "submitter", "submitter_type", "title")
UNKNOWN_SUBMITTER_TYPE = "ukjent"

GUESS_WINDOW = 600  # characters at the start of the text that guess_metadata looks at
TOP_LINES = 5  # non-empty lines at the top that may hold a sender line
MAX_TITLE_CHARS = 200
MAX_NAME_WORDS = 8
MAX_HEADING_WORDS = 20


@dataclass(frozen=True)
class SourceMetadata:
    submitter: str
    submitter_type: str  # e.g. "kommune", "helsefellesskap", "ukjent"
    title: str
    origin: SubmitterOrigin

    @property
    def guessed(self) -> bool:
        return self.origin != "metadata.csv"


# ---------------------------------------------------------------------------------------------
# metadata.csv


def _parse_row(row: list[str], line: int, where: str) -> tuple[str, SourceMetadata]:
    if len(row) != len(METADATA_COLUMNS):
        raise SourceError(
            f"{where} line {line}: expected {len(METADATA_COLUMNS)} fields "
            f"({','.join(METADATA_COLUMNS)}), got {len(row)}"
        )
    # without the apostrophe metadata.suggested.csv writes before a formula character, and
    # cleaned as document text and file names are, so a row names its file as indexed
    values = [plain_line(cell_text(value)) for value in row]
    for column, value in zip(METADATA_COLUMNS, values, strict=True):
        if not value:
            raise SourceError(f"{where} line {line}: empty '{column}'")
    file, submitter, submitter_type, title = values
    if PurePath(file).name != file:
        raise SourceError(f"{where} line {line}: 'file' must be a bare file name, got {file!r}")
    meta = SourceMetadata(
        submitter=submitter,
        submitter_type=submitter_type.lower(),
        title=title,
        origin="metadata.csv",
    )
    return file, meta


def read_metadata(path: Path) -> dict[str, SourceMetadata]:
    """Metadata per file name from a UTF-8 CSV; {} when the file does not exist.

    Raises SourceError naming the line of a malformed row, a duplicate file or a bad header.
    """
    if not path.is_file():
        logger.info("no metadata file at %s; submitters come from sender lines or names", path)
        return {}
    where = str(path)
    result: dict[str, SourceMetadata] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            # NUL goes as every field's control characters go (the csv module refuses it)
            reader = csv.reader(line.replace("\x00", "") for line in handle)
            header = [name.strip().lower() for name in next(reader, [])]
            if tuple(header) != METADATA_COLUMNS:
                raise SourceError(
                    f"{where} line 1: header must be {','.join(METADATA_COLUMNS)}, "
                    f"got {shown(','.join(header)) or '(empty)'}"
                )
            for row in reader:
                if not any(value.strip() for value in row):
                    continue
                file, meta = _parse_row(row, reader.line_num, where)
                if file in result:
                    raise SourceError(f"{where} line {reader.line_num}: duplicate file {file!r}")
                result[file] = meta
    except UnicodeDecodeError as exc:
        raise SourceError(f"{where}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except csv.Error as exc:
        raise SourceError(f"{where}: malformed CSV ({exc})") from exc
    logger.info("read metadata for %d files from %s", len(result), path)
    return result


def suggested_metadata(documents: Sequence[DocumentEntry]) -> str:
    """A metadata.csv for every indexed document as the build saw it, to check, edit and save
    as metadata.csv beside the sources."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(METADATA_COLUMNS)
    for doc in sorted(documents, key=lambda d: d.source):
        row = (doc.source, doc.submitter, doc.submitter_type, doc.title)
        writer.writerow([text_cell(value) for value in row])  # no cell read as a formula
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Guessing from an explicit sender line

_CAP_WORD = r"[A-ZÆØÅÄÖÜ][\w-]*"
_SP = r"[ \t]+"  # names never span lines
_KOMMUNE = rf"{_CAP_WORD}(?:{_SP}(?:og{_SP})?{_CAP_WORD}){{0,3}}{_SP}(?:fylkes)?[Kk]ommunes?\b"
_HELSEFELLESSKAP = (
    rf"Helsefellesskap(?:et)?(?:{_SP}(?:i|for))?"
    rf"(?:{_SP}(?:og{_SP})?(?:{_CAP_WORD}|kommunene|kommuner))+"
)
_PUBLIC_BODY = re.compile(rf"(?:{_HELSEFELLESSKAP}|{_KOMMUNE})")
# «Høringssvar fra X», «Innspill til … fra X», «Fra X»: the name follows «fra».
_FROM_LINE = re.compile(
    r"(?:\b(?:høringssvar|høringsinnspill|høringsuttalelse|innspill|uttalelse|merknader|svar)"
    r"\b.*?\s|^)fra\s+(?P<name>.+)$",
    re.IGNORECASE,
)
# A line that opens as a sender line does: «Høringssvar fra …», «Fra …».
_FROM_START = re.compile(
    r"^(?:fra|høringssvar|høringsinnspill|høringsuttalelse|innspill|uttalelse|merknader)\b",
    re.IGNORECASE,
)
# Where a name after «fra» ends: «… kommune til departementet», «… forening, 3. mai 2024».
_NAME_END = re.compile(
    r"\s+(?:til|om|vedrørende|vedr\.|angående|ang\.|datert|den)\s|[,;:(–—]|\s-\s|\s\d"
)
# An opening sentence in which the sender speaks: «Stange kommune viser til brev av …».
_SPEAKS = re.compile(
    r"^(?P<name>[A-ZÆØÅ][^.!?:]{2,80}?)\s+(?:viser\s+til|takker|oversender|avgir"
    r"|gir\s+(?:med\s+dette|herved)|har\s+følgende)\b"
)
_NOT_A_SENDER = frozenset(
    {"vi", "jeg", "det", "dette", "vår", "våre", "departementet", "regjeringen", "man", "en"}
)
# A letterhead is a first line that is only a name ending in one of these words.
_ORGANISATION_END = re.compile(
    r"(?:kommune|fylkeskommune|forening|foreningen|forbund|forbundet|helseforetak|HF|sykehus"
    r"|sykehuset|universitet|universitetet|direktorat|direktoratet|tilsyn|tilsynet|råd|rådet"
    r"|organisasjon|senter|senteret|AS|ASA|SA)$"
)
_LETTERHEAD_TITLE_WORDS = frozenset(
    {"innspill", "høringssvar", "høringsinnspill", "høringsuttalelse", "uttalelse", "notat"}
)
_DANGLING_END = re.compile(r"(?:\b(?:fra|til|og|for|i)|[-–—:])$", re.IGNORECASE)


def submitter_type_of(submitter: str) -> str:
    """'helsefellesskap', 'fylkeskommune', 'kommune' or 'annen', from the name's form."""
    lower = submitter.lower()
    if lower.startswith("helsefellesskap"):
        return "helsefellesskap"
    if lower.endswith("fylkeskommune"):
        return "fylkeskommune"
    if lower.endswith("kommune"):
        return "kommune"
    return "annen"


def _plausible_name(candidate: str) -> str | None:
    """The candidate as a name, or None when it does not read like one."""
    name = " ".join(candidate.split()).rstrip(".!?»\"' ")
    words = name.split()
    if not words or not words[0][0].isupper() or len(words) > MAX_NAME_WORDS:
        return None
    if words[0].lower() in _NOT_A_SENDER:
        return None
    if words[-1].lower().endswith("kommunes"):  # genitive: «Moss kommunes innspill»
        words[-1] = words[-1][:-1]
    return " ".join(words)


def _name_after_from(line: str) -> str | None:
    match = _FROM_LINE.search(line)
    if match is None:
        return None
    rest = match.group("name")
    end = _NAME_END.search(rest)
    return _plausible_name(rest[: end.start()] if end else rest)


def _is_heading(line: str) -> bool:
    """A title-like line: short and not a sentence (so «fra X» in a sentence does not count)."""
    return len(line.split()) <= MAX_HEADING_WORDS and not line.endswith((".", "!", "?"))


def _letterhead(line: str) -> str | None:
    words = line.split()
    if len(words) > 6 or words[0].lower() in _LETTERHEAD_TITLE_WORDS:
        return None
    if any(ch.isdigit() for ch in line) or line.endswith((".", ",", ":", "?", "!")):
        return None
    if _PUBLIC_BODY.fullmatch(line) or _ORGANISATION_END.search(line):
        return _plausible_name(line)
    return None


def _speaker(line: str) -> str | None:
    match = _SPEAKS.match(line)
    return _plausible_name(match.group("name")) if match else None


def top_lines(text: str) -> list[str]:
    """The first non-empty lines (paragraphs of cleaned text), whitespace collapsed."""
    lines = (" ".join(line.split()) for line in text[:GUESS_WINDOW].splitlines())
    return [line for line in lines if line][:TOP_LINES]


def sender_from_text(text: str) -> str | None:
    """The submitter named by an explicit sender line at the top of the text, if any."""
    lines = top_lines(text)
    if not lines:
        return None
    title = guess_title(text[:GUESS_WINDOW])
    from_lines = [title] + [line for line in lines if _FROM_START.match(line)]
    for line in from_lines:
        name = _name_after_from(line) if _is_heading(line) else None
        if name is not None:
            return name
    name = _letterhead(lines[0])
    if name is not None:
        return name
    for line in lines:
        name = _speaker(line)
        if name is not None:
            return name
    return None


def guess_title(text: str) -> str:
    """The first non-empty line, whitespace collapsed, joined with the next line when it ends
    mid-phrase (e.g. «... fra» + «Helsefellesskapet i Møre og Romsdal»); at most 200 chars."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    title = ""
    for line in lines:
        if not line:
            continue
        title = f"{title} {line}" if title else line
        if not _DANGLING_END.search(title) or len(title) >= MAX_TITLE_CHARS:
            break
    return title[:MAX_TITLE_CHARS].rstrip()


def guess_metadata(source: str, text: str) -> SourceMetadata:
    """Submitter from an explicit sender line at the top, else the file name (type «ukjent»)."""
    submitter = sender_from_text(text)
    if submitter is None:
        logger.debug("no sender line in %s; using the file name", source)
        return SourceMetadata(
            submitter=plain_line(PurePath(source).stem),
            submitter_type=UNKNOWN_SUBMITTER_TYPE,
            title=guess_title(text[:GUESS_WINDOW]),
            origin="filnavn",
        )
    return SourceMetadata(
        submitter=submitter,
        submitter_type=submitter_type_of(submitter),
        title=guess_title(text[:GUESS_WINDOW]),
        origin="avsenderlinje",
    )
