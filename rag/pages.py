"""Where an offset lies in a document: its section heading and (for PDFs) its page."""

from __future__ import annotations

from bisect import bisect_right

from rag.types import Document


def section_at(doc: Document, offset: int) -> str | None:
    """The heading of the section that holds `offset`, if any."""
    before = [s for s in doc.sections if s.start <= offset]
    return before[-1].title if before else None


def page_at(doc: Document, offset: int) -> int | None:
    """The 1-based page that holds `offset` (None for documents without pages)."""
    if not doc.page_starts:
        return None
    return bisect_right(doc.page_starts, offset)
