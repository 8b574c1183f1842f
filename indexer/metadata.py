"""Who submitted each source: read from metadata.csv, or guessed from the document's opening.

`read_metadata` reads the curated CSV (columns file,submitter,submitter_type,title).
`guess_metadata` is the fallback for files the CSV does not list; it looks for a municipality,
county or health community name near the top of the text and marks the result `guessed=True`.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path, PurePath

from rag.errors import SourceError

logger = logging.getLogger(__name__)

METADATA_FILE_NAME = "metadata.csv"
METADATA_COLUMNS = ("file", "submitter", "submitter_type", "title")
UNKNOWN_SUBMITTER_TYPE = "ukjent"

GUESS_WINDOW = 600  # characters at the start of the text that guess_metadata looks at
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class SourceMetadata:
    submitter: str
    submitter_type: str  # e.g. "kommune", "helsefellesskap", "ukjent"
    title: str
    guessed: bool


# ---------------------------------------------------------------------------------------------
# metadata.csv


def _parse_row(row: list[str], line: int, where: str) -> tuple[str, SourceMetadata]:
    if len(row) != len(METADATA_COLUMNS):
        raise SourceError(
            f"{where} line {line}: expected {len(METADATA_COLUMNS)} fields "
            f"({','.join(METADATA_COLUMNS)}), got {len(row)}"
        )
    values = [value.strip() for value in row]
    for column, value in zip(METADATA_COLUMNS, values, strict=True):
        if not value:
            raise SourceError(f"{where} line {line}: empty '{column}'")
    file, submitter, submitter_type, title = values
    if PurePath(file).name != file:
        raise SourceError(f"{where} line {line}: 'file' must be a bare file name, got {file!r}")
    meta = SourceMetadata(
        submitter=" ".join(submitter.split()),
        submitter_type=submitter_type.lower(),
        title=" ".join(title.split()),
        guessed=False,
    )
    return file, meta


def read_metadata(path: Path) -> dict[str, SourceMetadata]:
    """Metadata per file name from a UTF-8 CSV; {} when the file does not exist.

    Raises SourceError naming the line of a malformed row, a duplicate file or a bad header.
    """
    if not path.is_file():
        logger.info("no metadata file at %s; submitters will be guessed", path)
        return {}
    where = str(path)
    result: dict[str, SourceMetadata] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [name.strip().lower() for name in next(reader, [])]
            if tuple(header) != METADATA_COLUMNS:
                raise SourceError(
                    f"{where} line 1: header must be {','.join(METADATA_COLUMNS)}, "
                    f"got {','.join(header) or '(empty)'}"
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


# ---------------------------------------------------------------------------------------------
# Guessing from the text

_CAP_WORD = r"[A-ZÆØÅÄÖÜ][\w-]*"
_SP = r"[ \t]+"  # names never span lines
_KOMMUNE = rf"{_CAP_WORD}(?:{_SP}(?:og{_SP})?{_CAP_WORD}){{0,3}}{_SP}(?:fylkes)?[Kk]ommunes?\b"
_HELSEFELLESSKAP = (
    rf"Helsefellesskap(?:et)?(?:{_SP}(?:i|for))?"
    rf"(?:{_SP}(?:og{_SP})?(?:{_CAP_WORD}|kommunene|kommuner))+"
)
_SUBMITTER = re.compile(rf"{_HELSEFELLESSKAP}|{_KOMMUNE}")
# Capitalised words that can open a sentence or title right before a name.
_LEADING_NON_NAME = frozenset(
    {
        "fra", "til", "og", "i", "for", "innspill", "høringsinnspill", "høringssvar",
        "høringsuttalelse", "uttalelse", "svar", "nasjonal", "vedtak", "saksframlegg",
        "brev", "notat", "også", "både",
    }
)  # fmt: skip
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


def _clean_name(match: str) -> str | None:
    words = match.split()
    while words and words[0].lower() in _LEADING_NON_NAME:
        words = words[1:]
    if len(words) < 2:
        return None
    if words[-1].lower().endswith("kommunes"):  # genitive: «Moss kommunes innspill»
        words[-1] = words[-1][:-1]
    return " ".join(words)


def _find_submitter(head: str) -> str | None:
    for match in _SUBMITTER.finditer(head):
        name = _clean_name(match.group(0))
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
    """Guess submitter and title from the first ~600 characters of a document's text."""
    head = text[:GUESS_WINDOW]
    submitter = _find_submitter(head)
    if submitter is None:
        logger.debug("no submitter found in %s; using the file name", source)
        submitter, submitter_type = PurePath(source).stem, UNKNOWN_SUBMITTER_TYPE
    else:
        submitter_type = submitter_type_of(submitter)
    return SourceMetadata(
        submitter=submitter,
        submitter_type=submitter_type,
        title=guess_title(head),
        guessed=True,
    )
