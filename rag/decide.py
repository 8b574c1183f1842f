"""Per-submitter relevance: for one question, does each submitter in scope discuss it?

PROVISIONAL: built on today's answer logic (rag.select and rag.answer) so that the matrix and
the comparison view can be written against `SubmitterDecision`. The answer path (issue 9)
replaces these internals and makes /ask use the same function.

Confidence, as the current /ask would see it:
  "high"  the submitter passes the relevance bar and /ask's selection would quote it;
  "low"   it passes the bar, but /ask would leave it out (a specific question, and this
          submitter is much further from it than the closest one);
  "none"  it does not pass the bar, or the question is not answerable at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.answer import candidates_for, make_citation, pick_sentences, quote_is_exact
from rag.config import AnswerSettings
from rag.lexical import Term, content_terms
from rag.select import (
    Evidence,
    SubmitterGroup,
    best_similarity,
    group_by_document,
    is_answerable,
    is_relevant_submitter,
    select_groups,
)
from rag.types import Citation, Confidence, Document, Hit, SubmitterDecision


def decide(
    question: str,
    hits: Sequence[Hit],
    documents: dict[str, Document],
    in_scope: Sequence[Document],
    evidence: Evidence,
    settings: AnswerSettings,
) -> list[SubmitterDecision]:
    """One decision per document in `in_scope`, in that order."""
    terms = content_terms(question, query=True)
    answerable = is_answerable(best_similarity(hits), evidence.coverage, settings)
    groups = group_by_document(hits, documents, terms, evidence.weights)
    by_id = {g.document.document_id: g for g in groups}
    selected = (
        {g.document.document_id for g in select_groups(question, groups, settings)}
        if answerable
        else set()
    )
    decisions = []
    for document in in_scope:
        group = by_id.get(document.document_id)
        score = round(group.best_similarity, 4) if group else 0.0
        if group is None or not answerable or not is_relevant_submitter(group, settings):
            decisions.append(SubmitterDecision(document, "none", (), score))
            continue
        quotes = quotes_of(group, terms, evidence, documents, settings)
        confidence: Confidence = "high" if document.document_id in selected else "low"
        if not quotes:
            confidence = "none"
        decisions.append(SubmitterDecision(document, confidence, quotes, score))
    return decisions


def quotes_of(
    group: SubmitterGroup,
    terms: Sequence[Term],
    evidence: Evidence,
    documents: dict[str, Document],
    settings: AnswerSettings,
) -> tuple[Citation, ...]:
    """The submitter's best sentences on the question, numbered from 1, each checked exact."""
    found = candidates_for(group.hits, group.document, terms, evidence.weights)
    picked = pick_sentences(found, settings.max_sentences_per_submitter)
    citations = (make_citation(n, c) for n, c in enumerate(picked, start=1))
    return tuple(c for c in citations if quote_is_exact(c, documents))
