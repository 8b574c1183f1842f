"""Split a cleaned document into chunks that follow its sections and keep exact offsets."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

from langchain_text_splitters import RecursiveCharacterTextSplitter

from indexer.clean import PARAGRAPH_BREAK
from rag.config import ChunkSettings
from rag.pages import page_at
from rag.types import Chunk, Document, Section

# Paragraphs, list items, sentences, clauses, words: the structure, coarsest first.
SEPARATORS = ("\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", "")
_SOLID = re.compile(r"\S")


def effective_overlap(settings: ChunkSettings) -> int:
    return min(settings.overlap, settings.size // 2)


def make_splitter(settings: ChunkSettings) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=settings.size,
        chunk_overlap=effective_overlap(settings),
        separators=list(SEPARATORS),
        keep_separator="end",
        strip_whitespace=True,
    )


def section_spans(text: str, sections: Sequence[Section]) -> list[tuple[int, int]]:
    """[start, end) spans from one heading to the next; text before the first heading is its own."""
    starts = sorted({0, *(s.start for s in sections)})
    return [(a, b) for a, b in zip(starts, [*starts[1:], len(text)], strict=True) if b > a]


def locate(pieces: Sequence[str], text: str, base: int, overlap: int) -> list[tuple[int, int]]:
    """Offsets of each piece in `text`, pieces in order and possibly overlapping.

    The splitter starts each piece at most `overlap` characters before the previous one ends
    and no later than the first non-space character after it. In repetitive text a piece can
    fit several places in that window, and a first-match search can lose the text after it;
    so the placements are searched depth first, earliest first, for a chain that reaches the
    end of `text`, and a placement from which no chain reaches it is never tried twice. In
    ordinary text each piece fits one place and the first chain is the answer; in a text that
    repeats one letter or word the search stays near one chain instead of following every
    placement of every piece (which grew with the square of the text).
    """
    if not pieces:
        return []
    first = _next_solid(text, 0)
    finish = len(text.rstrip())
    last = len(pieces) - 1

    def placements(k: int, before: int) -> list[int]:
        """Where piece k may start after piece k-1 at `before`, latest first (popped last)."""
        end = before + len(pieces[k - 1])
        window = range(_next_solid(text, end), max(0, end - overlap) - 1, -1)
        return [start for start in window if text.startswith(pieces[k], start)]

    dead: set[tuple[int, int]] = set()  # (piece, start) from which the end cannot be reached
    path = [first] if text.startswith(pieces[0], first) else []
    choices = [placements(1, first) if last else []] if path else []
    while path:
        k = len(path) - 1  # the piece placed last
        if k == last and path[-1] + len(pieces[-1]) == finish:
            return [(base + s, base + s + len(p)) for s, p in zip(path, pieces, strict=True)]
        options = choices[-1]
        while options and (k + 1, options[-1]) in dead:
            options.pop()
        if k == last or not options:
            dead.add((k, path.pop()))
            choices.pop()
            continue
        start = options.pop()
        path.append(start)
        choices.append(placements(k + 2, start) if k + 1 < last else [])
    raise ValueError(f"chunks do not tile their section: {text[:60]!r}")


def _next_solid(text: str, position: int) -> int:
    """The first non-whitespace position at or after `position` (len(text) if none)."""
    found = _SOLID.search(text, position)
    return found.start() if found else len(text)


def after_headings(sections: Sequence[Section], position: int) -> int:
    """The offset just past the run of headings that starts at `position` (itself if none)."""
    by_start = {s.start: s for s in sections}
    while position in by_start:
        position += len(by_start[position].title) + len(PARAGRAPH_BREAK)
    return position


def section_title_at(sections: Sequence[Section], start: int) -> str | None:
    """The heading a chunk starting at `start` belongs to; headings that open the chunk count."""
    i = bisect_right([s.start for s in sections], after_headings(sections, start)) - 1
    return sections[i].title if i >= 0 else None


def chunk_document(doc: Document, settings: ChunkSettings) -> list[Chunk]:
    """Chunks with `chunk.text == doc.text[chunk.start:chunk.end]`, never crossing a heading."""
    splitter = make_splitter(settings)
    chunks: list[Chunk] = []
    for span_start, span_end in absorb_lone_headings(
        section_spans(doc.text, doc.sections), doc.sections
    ):
        body = doc.text[span_start:span_end]
        pieces = splitter.split_text(body)
        spans = locate(pieces, body, span_start, effective_overlap(settings))
        for start, end in absorb_lone_headings(spans, doc.sections):
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.document_id}:{len(chunks):04d}",
                    document_id=doc.document_id,
                    start=start,
                    end=end,
                    text=doc.text[start:end],
                    section=section_title_at(doc.sections, start),
                    page=page_at(doc, start),
                )
            )
    return chunks


def absorb_lone_headings(
    spans: Sequence[tuple[int, int]], sections: Sequence[Section]
) -> list[tuple[int, int]]:
    """A span that holds only headings is joined to the span after it, never indexed alone."""
    kept: list[tuple[int, int]] = []
    pending: int | None = None
    for i, (start, end) in enumerate(spans):
        if after_headings(sections, start) >= end and i + 1 < len(spans):
            pending = start if pending is None else pending
            continue
        kept.append((start if pending is None else pending, end))
        pending = None
    return kept
