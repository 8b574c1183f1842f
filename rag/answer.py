"""Extractive answers: per submitter, the most relevant sentences, quoted verbatim with offsets.

No language model is needed. Each quote is a span of the stored document text, and every
citation is checked against that text before it leaves this module.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.config import AnswerSettings
from rag.lexical import Term, content_terms, weighted_overlap
from rag.select import (
    Evidence,
    best_similarity,
    group_by_document,
    is_answerable,
    select_groups,
)
from rag.sentences import Span, sentence_spans
from rag.types import Citation, Document, Hit

log = logging.getLogger(__name__)

NO_ANSWER_TEXT = (
    "Ingen relevante treff i innspillene. Spørsmålet ser ikke ut til å bli omtalt i de "
    "indekserte høringsinnspillene."
)
_MARKER = re.compile(r"\[(\d+)\]")
_MARKUP = re.compile(r"[\[\]*_`#<>|\\]")
_TOPIC = re.compile(r"\bom\s+(.+?)\s*[?.!]*\s*$", re.IGNORECASE)
MIN_SENTENCE_CHARS = 25


@dataclass(frozen=True)
class Candidate:
    """A sentence from a retrieved chunk, scored for how well it answers the question."""

    document: Document
    span: Span
    score: float
    overlap: float


def candidates_for(
    hits: Sequence[Hit], document: Document, question: Sequence[Term], weights: dict[str, float]
) -> list[Candidate]:
    """Sentences from one document's retrieved chunks, best first, each wording once."""
    seen: set[str] = set()
    found: list[Candidate] = []
    for rank, hit in enumerate(hits):
        chunk_weight = 1.0 / (1 + rank)
        for span in sentence_spans(document.text, hit.chunk.start, hit.chunk.end):
            sentence = document.text[span.start : span.end]
            if sentence in seen or len(sentence) < MIN_SENTENCE_CHARS or is_heading(document, span):
                continue
            seen.add(sentence)
            overlap = weighted_overlap(question, weights, sentence)
            found.append(Candidate(document, span, 2.0 * overlap + chunk_weight, overlap))
    return sorted(found, key=lambda c: (-c.score, c.span.start))


def pick_sentences(candidates: Sequence[Candidate], limit: int) -> list[Candidate]:
    """The best sentence, then up to `limit - 1` more that share at least half its key words."""
    if not candidates:
        return []
    best = candidates[0]
    more = [c for c in candidates[1:] if c.overlap > 0 and c.overlap >= best.overlap / 2]
    return [best, *more[: limit - 1]]


def is_heading(document: Document, span: Span) -> bool:
    return any(s.start == span.start for s in document.sections)


def without_markers(quote: str) -> str:
    """A quote as shown in the answer markdown: a footnote like «[3]» in the document is
    escaped («\\[3\\]») so it cannot pass for a citation marker. The citation keeps it exact."""
    return _MARKER.sub(r"\\[\1\\]", quote)


def topic_of(question: str) -> str | None:
    """«Hva sier kommunene om fastlegeordningen?» -> «fastlegeordningen»."""
    match = _TOPIC.search(question.strip())
    if not match:
        return None
    # The topic is echoed into markdown: no [n] markers, emphasis or code from the question.
    topic = " ".join(_MARKUP.sub(" ", match.group(1)).split())
    return topic or None


def lead_line(question: str, covered: int, total: int) -> str:
    topic = topic_of(question)
    what = f"omtaler {topic}" if topic else "har relevante avsnitt om spørsmålet"
    return f"{covered} av {total} innspill {what}."


def quote_is_exact(citation: Citation, documents: dict[str, Document]) -> bool:
    """The check every citation passes before it is returned: quote == text[start:end]."""
    doc = documents.get(citation.document_id)
    exact = (
        bool(citation.quote)
        and doc is not None
        and (doc.text[citation.start : citation.end] == citation.quote)
    )
    if not exact:
        log.error(
            "dropping citation %d: quote does not match %s[%d:%d]",
            citation.n,
            citation.document_id,
            citation.start,
            citation.end,
        )
    return exact


def make_citation(n: int, candidate: Candidate) -> Citation:
    doc, span = candidate.document, candidate.span
    quote = doc.text[span.start : span.end]
    return Citation(
        n=n,
        document_id=doc.document_id,
        source=doc.source,
        submitter=doc.submitter,
        submitter_type=doc.submitter_type,
        section=section_at(doc, span.start),
        page=page_at(doc, span.start),
        quote=quote,
        start=span.start,
        end=span.end,
        score=round(candidate.score, 4),
    )


def section_at(doc: Document, offset: int) -> str | None:
    before = [s for s in doc.sections if s.start <= offset]
    return before[-1].title if before else None


def page_at(doc: Document, offset: int) -> int | None:
    if not doc.page_starts:
        return None
    return sum(1 for p in doc.page_starts if p <= offset)


def compose(
    question: str,
    hits: Sequence[Hit],
    documents: dict[str, Document],
    documents_in_scope: int,
    evidence: Evidence,
    settings: AnswerSettings,
) -> tuple[str, bool, tuple[Citation, ...]]:
    """(markdown answer with [n] markers, no_answer, citations)."""
    if not is_answerable(best_similarity(hits), evidence.coverage, settings):
        return NO_ANSWER_TEXT, True, ()
    terms = content_terms(question, query=True)
    groups = group_by_document(hits, documents, terms, evidence.weights)
    lines: list[str] = []
    citations: list[Citation] = []
    for group in select_groups(question, groups, settings):
        found = candidates_for(group.hits, group.document, terms, evidence.weights)
        quoted = []
        for candidate in pick_sentences(found, settings.max_sentences_per_submitter):
            citation = make_citation(len(citations) + 1, candidate)
            if quote_is_exact(citation, documents):
                citations.append(citation)
                quoted.append(f"- «{without_markers(citation.quote)}» [{citation.n}]")
        if quoted:
            doc = group.document
            lines.append(f"**{doc.submitter}** ({doc.submitter_type})\n" + "\n".join(quoted))
    if not citations:
        return NO_ANSWER_TEXT, True, ()
    covered = len({c.document_id for c in citations})
    lead = lead_line(question, covered, documents_in_scope)
    return "\n\n".join([lead, *lines]), False, tuple(citations)
