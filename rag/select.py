"""Which submitters answer a question, and whether anything does at all."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.config import AnswerSettings
from rag.lexical import Term, weighted_overlap
from rag.types import Document, Hit


@dataclass(frozen=True)
class Evidence:
    """What the corpus knows about the question's words: coverage and IDF weights."""

    coverage: float
    weights: dict[str, float]


@dataclass(frozen=True)
class SubmitterGroup:
    document: Document
    hits: tuple[Hit, ...]
    best_similarity: float
    overlap: float


def group_by_document(
    hits: Sequence[Hit],
    documents: dict[str, Document],
    question: Sequence[Term],
    weights: dict[str, float],
) -> list[SubmitterGroup]:
    """Retrieved hits per document, best fused score first."""
    grouped: dict[str, list[Hit]] = {}
    for hit in hits:
        grouped.setdefault(hit.chunk.document_id, []).append(hit)
    return [
        SubmitterGroup(
            documents[doc_id],
            tuple(doc_hits),
            best_similarity(doc_hits),
            max(weighted_overlap(question, weights, h.chunk.text) for h in doc_hits),
        )
        for doc_id, doc_hits in grouped.items()
    ]


def is_relevant_submitter(group: SubmitterGroup, settings: AnswerSettings) -> bool:
    """A submitter counts when its best passage is close and shares the question's key words."""
    return (
        group.best_similarity >= settings.submitter_relevance
        and group.overlap >= settings.submitter_overlap
    )


def best_similarity(hits: Sequence[Hit]) -> float:
    return max((h.similarity for h in hits if h.similarity is not None), default=0.0)


def is_answerable(similarity: float, coverage: float, settings: AnswerSettings) -> bool:
    """Relevant enough to answer: a very close passage, or a close one about words we have."""
    if similarity >= settings.confident_relevance:
        return True
    return similarity >= settings.min_relevance and coverage >= settings.min_term_coverage


# Words in a submitter's name that do not single it out («Moss kommune» is named by «Moss»).
GENERIC_NAME_WORDS = frozenset(
    {"kommune", "kommunene", "kommunes", "fylkeskommune", "helsefellesskapet"}
    | {"helsefellesskap", "og", "for", "i", "av", "til"}
)
# Words that make a question about the whole corpus rather than about one place in it.
CORPUS_WIDE_WORDS = frozenset(
    {"innspillene", "innspill", "høringsinnspillene", "høringssvarene", "kommunene"}
    | {"helsefellesskapene", "innsenderne", "aktørene", "alle", "hvem"}
)
_WORD = re.compile(r"\w\w+")


def words_of(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def name_words(submitter: str) -> set[str]:
    return words_of(submitter) - GENERIC_NAME_WORDS


def mentioned_documents(question: str, documents: Sequence[Document]) -> frozenset[str]:
    """Documents whose submitter the question names («Hva mener Bergen om ...»)."""
    asked = words_of(question)
    return frozenset(
        d.document_id
        for d in documents
        if name_words(d.submitter) and name_words(d.submitter) <= asked
    )


def asks_whole_corpus(question: str) -> bool:
    """«Hva sier kommunene om ...», «Hvordan beskriver innspillene ...»."""
    return bool(words_of(question) & CORPUS_WIDE_WORDS)


def select_groups(
    question: str, groups: Sequence[SubmitterGroup], settings: AnswerSettings
) -> list[SubmitterGroup]:
    """The submitters that answer, best first.

    A question that names submitters is answered from them; a question about the whole corpus
    from every submitter whose best passage passes the bar; any other question only from the
    submitters whose best passage is nearly as close as the closest one.
    """
    relevant = [g for g in groups if is_relevant_submitter(g, settings)]
    named = mentioned_documents(question, [g.document for g in groups])
    if named and any(g.document.document_id in named for g in relevant):
        return [g for g in relevant if g.document.document_id in named]
    if asks_whole_corpus(question) or not relevant:
        return relevant
    closest = max(g.best_similarity for g in relevant)
    most_overlap = max(g.overlap for g in relevant)
    return [
        g
        for g in relevant
        if g.best_similarity >= closest - settings.specific_similarity_gap
        and g.overlap >= most_overlap - settings.specific_overlap_gap
    ]
