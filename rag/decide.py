"""The relevance decision: does the corpus answer a question, and which submitters discuss it.

One code path for `/ask` and `/matrix`. Every decision rests on semantic evidence. Whether the
corpus answers rests on its support (the closest distinct sentences' own cosines less their
typicality, less a share for the question's words the corpus knows neither literally nor by a
word close in meaning: `rag.retrieve.support`, `rag.vocabulary`); which submitters discuss it,
and what is quoted, on each document's closest quotable sentences (their similarity in context).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from rag.config import AnswerSettings
from rag.contract import Confidence
from rag.pages import page_at, section_at
from rag.query import Query
from rag.sentences import wording
from rag.types import (
    Citation,
    DocumentEvidence,
    Evidence,
    ScoredSentence,
    SubmitterDecision,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """The answer to «is this answered, and by whom»: overall confidence, one row per document."""

    confidence: Confidence
    submitters: tuple[SubmitterDecision, ...]  # every document in scope, closest first

    @property
    def quoted(self) -> tuple[SubmitterDecision, ...]:
        return tuple(s for s in self.submitters if s.confidence != "none")


def confidence_of(score: float, settings: AnswerSettings) -> Confidence:
    if score >= settings.high_confidence:
        return "high"
    if score >= settings.low_confidence:
        return "low"
    return "none"


def submitter_confidence(support: float, settings: AnswerSettings) -> Confidence:
    """A quoted submitter's confidence: "high" when its own support is, else "low"."""
    return "high" if support >= settings.high_confidence else "low"


def chosen_documents(query: Query, evidence: Evidence, settings: AnswerSettings) -> frozenset[str]:
    """The documents that answer: named ones if the question names any that discuss it; for a
    question about the whole corpus every document over the bar (an absolute score, and
    `corpus_gap` under the closest); otherwise those nearly as close as the closest
    (`specific_gap`). The closest document is always among them."""
    ranked = [d for d in evidence.documents if d.sentences]
    if not ranked:
        return frozenset()
    top = ranked[0]
    floor = max(settings.submitter_threshold, top.best - settings.corpus_gap)
    relevant = [d for d in ranked if d.best >= floor] or [top]
    named = [d for d in relevant if d.document.document_id in query.named_documents]
    if named:
        return ids(named)
    if query.corpus_wide:
        return ids(relevant)
    return ids(d for d in relevant if d.best >= top.best - settings.specific_gap)


def ids(documents: Iterable[DocumentEvidence]) -> frozenset[str]:
    return frozenset(d.document.document_id for d in documents)


def quote_sentences(found: DocumentEvidence, settings: AnswerSettings) -> list[ScoredSentence]:
    """The best sentence, then more that are nearly as close, in their order of closeness;
    a wording the document repeats is quoted once."""
    if not found.sentences:
        return []
    floor = found.best - settings.quote_gap
    chosen: list[ScoredSentence] = []
    wordings: set[str] = set()
    for scored in found.sentences:
        said = wording(sentence_text(found, scored))
        if scored.score >= floor and said not in wordings:
            chosen.append(scored)
            wordings.add(said)
    return chosen[: settings.max_sentences_per_submitter]


def sentence_text(found: DocumentEvidence, scored: ScoredSentence) -> str:
    return found.document.text[scored.sentence.start : scored.sentence.end]


def citation(n: int, found: DocumentEvidence, scored: ScoredSentence) -> Citation:
    doc, sentence = found.document, scored.sentence
    return Citation(
        n=n,
        document_id=doc.document_id,
        source=doc.source,
        submitter=doc.submitter,
        submitter_type=doc.submitter_type,
        section=section_at(doc, sentence.start),
        page=page_at(doc, sentence.start),
        quote=sentence_text(found, scored),
        start=sentence.start,
        end=sentence.end,
        score=round(scored.score, 4),
    )


def is_exact(quote: Citation, found: DocumentEvidence) -> bool:
    """The check every quote passes before it leaves: quote == text[start:end]."""
    exact = bool(quote.quote) and found.document.text[quote.start : quote.end] == quote.quote
    if not exact:
        log.error("dropping quote %s[%d:%d]", quote.document_id, quote.start, quote.end)
    return exact


def decide(query: Query, evidence: Evidence, settings: AnswerSettings) -> Decision:
    """Overall confidence and, per document in scope, whether and how it discusses the question.
    Quotes are numbered in the order they will be shown (closest document first)."""
    confidence = confidence_of(evidence.support, settings)
    chosen = chosen_documents(query, evidence, settings) if confidence != "none" else frozenset()
    rows: list[SubmitterDecision] = []
    numbered = 0
    for found in evidence.documents:
        if found.document.document_id not in chosen:
            rows.append(SubmitterDecision(found.document, "none", (), round(found.best, 4)))
            continue
        quotes = []
        for scored in quote_sentences(found, settings):
            quote = citation(numbered + 1, found, scored)
            if is_exact(quote, found):
                quotes.append(quote)
                numbered += 1
        rows.append(
            SubmitterDecision(
                found.document,
                submitter_confidence(found.support, settings) if quotes else "none",
                tuple(quotes),
                round(found.best, 4),
            )
        )
    if not any(r.quotes for r in rows):
        confidence = "none"
    return Decision(confidence, tuple(rows))
