"""Turn PDF-extracted text into readable paragraphs and find its headings.

The seeds are text pulled out of PDFs: bullet glyphs, lines broken mid-sentence, blank lines
where pages broke, URLs repeated, trailing spaces. `clean_text` rebuilds paragraphs from that;
its output is the stored document text that every offset in the system refers to. Control and
invisible characters go first, by the project's one cleaning rule (rag/cleaning.py), which
names, metadata and questions go through too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.cleaning import normalise
from rag.sentences import ends_sentence
from rag.types import Section

# Bullets seen in PDF extractions, including the Symbol/Wingdings private-use glyphs.
_BULLET = re.compile(r"^[●•▪■◦○◆❖➢►▸‣⁃\uf000-\uf0ff]\s*")
_DASH_BULLET = re.compile(r"^[-–]\s+")
_URL = re.compile(r"https?://\S+")
_NUMBERED_HEADING = re.compile(r"^\d{1,2}(\.\d{1,2})*\.?\s+\S")
_PAGE_NUMBER = re.compile(r"^\d{1,3}$")
_HEADING_MAX_CHARS = 90
_HEADING_MAX_WORDS = 12

PARAGRAPH_BREAK = "\n\n"


@dataclass(frozen=True)
class Line:
    text: str
    blank_before: bool
    bullet: bool


@dataclass
class _Block:
    """A heading, paragraph or list being built: its items as the lines they join (joined once,
    when rendered, so that a paragraph of many lines costs its length, not its square)."""

    kind: str  # "heading", "paragraph" or "list"
    parts: list[list[str]]  # per item (one for headings and paragraphs), its lines
    unclosed: int = 0  # «(» minus «)» in the last item

    @classmethod
    def of(cls, kind: str, text: str) -> _Block:
        block = cls(kind, [])
        block.start_item(text)
        return block

    def start_item(self, text: str) -> None:
        self.parts.append([text])
        self.unclosed = text.count("(") - text.count(")")

    def extend_item(self, text: str) -> None:
        self.parts[-1].append(text)
        self.unclosed += text.count("(") - text.count(")")

    @property
    def last_line(self) -> str:
        return self.parts[-1][-1]

    def render(self) -> str:
        items = [" ".join(lines) for lines in self.parts]
        if self.kind == "list":
            return "\n".join(f"- {item}" for item in items)
        return items[0]


@dataclass(frozen=True)
class CleanText:
    text: str
    sections: tuple[Section, ...]


def read_lines(text: str) -> list[Line]:
    """Non-blank lines, each knowing whether a blank line preceded it and whether it is a bullet."""
    lines: list[Line] = []
    blank_before = True
    for raw_line in text.split("\n"):
        if not raw_line:
            blank_before = True
            continue
        stripped = _BULLET.sub("", raw_line)
        bullet = stripped != raw_line or bool(_DASH_BULLET.match(raw_line))
        stripped = _DASH_BULLET.sub("", stripped) if bullet else stripped
        if stripped:
            lines.append(Line(stripped, blank_before, bullet))
        blank_before = False
    return drop_page_numbers(drop_repeated_urls(lines))


def drop_page_numbers(lines: Sequence[Line]) -> list[Line]:
    """A line holding nothing but a short number is a page number left by the PDF extraction."""
    return [line for line in lines if not _PAGE_NUMBER.match(line.text)]


def drop_repeated_urls(lines: Sequence[Line]) -> list[Line]:
    """PDF extraction repeats link targets; keep the first of identical consecutive URL lines."""
    kept: list[Line] = []
    for line in lines:
        if kept and _URL.search(line.text) and line.text == kept[-1].text:
            continue
        kept.append(line)
    return kept


def starts_lowercase(text: str) -> bool:
    first = text[0]
    return first.islower() or first in "(,;–-" or (first.isdigit() and not text[:3].endswith("."))


def is_heading(lines: Sequence[Line], i: int) -> bool:
    """A short, unpunctuated line that stands alone between sentences."""
    line = lines[i]
    text = line.text
    if line.bullet or len(text) > _HEADING_MAX_CHARS or len(text.split()) > _HEADING_MAX_WORDS:
        return False
    if text.endswith((".", ",", ";", ":", "-")) or _URL.search(text):
        return False
    if text.endswith(")") and "(" not in text:
        return False
    if not (text[0].isupper() or _NUMBERED_HEADING.match(text)):
        return False
    previous_closed = i == 0 or line.blank_before or ends_sentence(lines[i - 1].text)
    next_opens = i + 1 == len(lines) or not starts_lowercase(lines[i + 1].text)
    return previous_closed and next_opens


def continues(block: _Block, line: Line) -> bool:
    """Whether `line` carries on the sentence or item that `block` ends with."""
    if block.kind == "heading":
        return False
    last = block.last_line  # the item ends as its last line does
    if line.bullet:
        return False
    if not line.blank_before:
        return not (
            block.kind == "list" and ends_sentence(last) and not starts_lowercase(line.text)
        )
    inside_parentheses = block.unclosed > 0
    return inside_parentheses or (not ends_sentence(last) and starts_lowercase(line.text))


def build_blocks(lines: Sequence[Line]) -> list[_Block]:
    blocks: list[_Block] = []
    for i, line in enumerate(lines):
        if is_heading(lines, i):
            blocks.append(_Block.of("heading", line.text))
        elif blocks and continues(blocks[-1], line):
            blocks[-1].extend_item(line.text)
        elif line.bullet and blocks and blocks[-1].kind == "list":
            blocks[-1].start_item(line.text)
        else:
            blocks.append(_Block.of("list" if line.bullet else "paragraph", line.text))
    return blocks


def clean_text(raw: str) -> CleanText:
    """Readable paragraphs separated by blank lines, lists as '- ' lines, headings located."""
    blocks = build_blocks(read_lines(normalise(raw)))
    pieces: list[str] = []
    sections: list[Section] = []
    offset = 0
    for block in blocks:
        rendered = block.render()
        if block.kind == "heading":
            sections.append(Section(offset, rendered))
        pieces.append(rendered)
        offset += len(rendered) + len(PARAGRAPH_BREAK)
    return CleanText(PARAGRAPH_BREAK.join(pieces), tuple(sections))


def clean_pages(pages: Sequence[str]) -> tuple[CleanText, tuple[int, ...]]:
    """Clean each page and join them; returns the text and the offset where each page starts."""
    texts: list[str] = []
    sections: list[Section] = []
    page_starts: list[int] = []
    offset = 0
    for page in pages:
        cleaned = clean_text(page)
        page_starts.append(offset)
        sections.extend(Section(offset + s.start, s.title) for s in cleaned.sections)
        texts.append(cleaned.text)
        offset += len(cleaned.text) + (len(PARAGRAPH_BREAK) if cleaned.text else 0)
    joined = PARAGRAPH_BREAK.join(t for t in texts if t)
    return CleanText(joined, tuple(sections)), tuple(page_starts)
