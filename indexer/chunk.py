"""Split a cleaned document into chunks that follow its sections and keep exact offsets."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence

from langchain_text_splitters import RecursiveCharacterTextSplitter

from indexer.clean import PARAGRAPH_BREAK
from rag.config import ChunkSettings
from rag.types import Chunk, Document, Section

# Paragraphs, list items, sentences, clauses, words: the structure, coarsest first.
SEPARATORS = ("\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", "")


def make_splitter(settings: ChunkSettings) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=settings.size,
        chunk_overlap=min(settings.overlap, settings.size // 2),
        separators=list(SEPARATORS),
        keep_separator="end",
        strip_whitespace=True,
    )


def section_spans(text: str, sections: Sequence[Section]) -> list[tuple[int, int]]:
    """[start, end) spans from one heading to the next; text before the first heading is its own."""
    starts = sorted({0, *(s.start for s in sections)})
    return [(a, b) for a, b in zip(starts, [*starts[1:], len(text)], strict=True) if b > a]


def locate(pieces: Sequence[str], text: str, base: int) -> Iterator[tuple[int, int]]:
    """Offsets of each piece in `text`, pieces in order and possibly overlapping."""
    cursor = 0
    for piece in pieces:
        found = text.find(piece, cursor)
        if found < 0:
            raise ValueError(f"chunk not found in its section: {piece[:60]!r}")
        yield base + found, base + found + len(piece)
        cursor = found + 1


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


def page_at(page_starts: Sequence[int], offset: int) -> int | None:
    return bisect_right(page_starts, offset) if page_starts else None


def chunk_document(doc: Document, settings: ChunkSettings) -> list[Chunk]:
    """Chunks with `chunk.text == doc.text[chunk.start:chunk.end]`, never crossing a heading."""
    splitter = make_splitter(settings)
    chunks: list[Chunk] = []
    for span_start, span_end in absorb_lone_headings(
        section_spans(doc.text, doc.sections), doc.sections
    ):
        body = doc.text[span_start:span_end]
        spans = locate(splitter.split_text(body), body, span_start)
        for start, end in absorb_lone_headings(list(spans), doc.sections):
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.document_id}:{len(chunks):04d}",
                    document_id=doc.document_id,
                    start=start,
                    end=end,
                    text=doc.text[start:end],
                    section=section_title_at(doc.sections, start),
                    page=page_at(doc.page_starts, start),
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
