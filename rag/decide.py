"""The relevance decision: does the corpus answer a question, and which submitters discuss it.

One code path for `/ask`, `/matrix` and `/compare`, and a pure function of the evidence's
per-sentence features and the calibrated policy (`rag.policy`): change the policy file and the
answers change. Whether the corpus answers rests on its support (its best distinct sentences'
own cosines less their typicality, less a share for the question's words the corpus knows
neither literally nor by a word close in meaning: `rag.scoring`, `rag.vocabulary`); which
submitters discuss it, and what is quoted, on each document's closest quotable sentences (their
similarity in context).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rag.config import AnswerSettings
from rag.contract import Confidence
from rag.pages import page_at, section_at
from rag.policy import Policy
from rag.query import Query
from rag.scoring import (
    NO_SUPPORT,
    distinctiveness,
    narrowed,
    segments_of,
    similarity,
    support,
    supports,
    weight_vector,
)
from rag.types import (
    Candidates,
    Citation,
    Document,
    DocumentEvidence,
    Evidence,
    Sentence,
    SubmitterDecision,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """The answer to «is this answered, and by whom»: overall confidence, one row per document."""

    confidence: Confidence
    submitters: tuple[SubmitterDecision, ...]  # every document in scope, closest first
    support: float  # what the confidence rests on (`rag.scoring.support`)

    @property
    def quoted(self) -> tuple[SubmitterDecision, ...]:
        return tuple(s for s in self.submitters if s.confidence != "none")


@dataclass(frozen=True)
class Scored:
    """One document's candidates scored under a policy: best first."""

    evidence: DocumentEvidence
    order: NDArray[np.int64]  # positions in the candidates, best first
    scores: NDArray[np.float32]  # similarity in context plus the lexical tie-break
    distinctive: NDArray[np.float32]
    support: float

    @property
    def document(self) -> Document:
        return self.evidence.document

    @property
    def best(self) -> float:
        return float(self.scores[self.order[0]]) if len(self.order) else NO_SUPPORT


def score_documents(evidence: Evidence, policy: Policy, settings: AnswerSettings) -> list[Scored]:
    """Every document's candidates scored (`rag.scoring`), best first (ties: earlier in the
    text, which within a document is the lower sentence row), all documents in one pass."""
    lengths = [len(d.candidates) for d in evidence.documents]
    segments = segments_of(lengths)
    c = Candidates.joined([d.candidates for d in evidence.documents], len(evidence.encoders))
    ranking = weight_vector(policy, evidence.encoders, support=False)
    supporting = weight_vector(policy, evidence.encoders, support=True)
    scores = similarity(c.own, c.chunk, ranking, policy.context_mix)
    scores = (scores + np.float32(settings.lexical_tiebreak) * c.overlap).astype(np.float32)
    order = np.lexsort((c.rows, -scores, segments)).astype(np.int64)
    distinctive = distinctiveness(c.own, c.typical, supporting, policy.support.typicality_weight)
    each = supports(distinctive, c.wording, segments, len(lengths), policy, evidence.coverage)
    edges = np.cumsum([0, *lengths]).tolist()
    return [
        Scored(d, order[a:b] - a, scores[a:b], distinctive[a:b], float(value))
        for d, a, b, value in zip(
            evidence.documents, edges[:-1], edges[1:], each.tolist(), strict=True
        )
    ]


def corpus_support(scored: Sequence[Scored], policy: Policy, coverage: float) -> float:
    """The support of all documents in scope together: their best distinct sentences."""
    if not scored:
        return NO_SUPPORT
    distinctive = np.concatenate([s.distinctive for s in scored])
    wordings = np.concatenate([s.evidence.candidates.wording for s in scored])
    return support(distinctive, wordings, policy, coverage)


def narrow(evidence: Evidence, policy: Policy, per_document: int) -> Evidence:
    """The evidence narrowed to what the decision needs of each document
    (`rag.scoring.narrowed`), as the service retrieves it."""
    documents = []
    for found in evidence.documents:
        c = found.candidates
        positions = narrowed(c.own, c.chunk, c.typical, policy, evidence.encoders, per_document)
        documents.append(DocumentEvidence(found.document, c.take(positions)))
    return Evidence(tuple(documents), evidence.sentences, evidence.encoders, evidence.coverage)


def reaches(value: float, threshold: float) -> bool:
    """`value` (computed in float32, as every similarity is) at or over `threshold` taken in
    the same precision: a support of exactly the threshold reaches it."""
    return value >= float(np.float32(threshold))


def confidence_of(value: float, policy: Policy) -> Confidence:
    if reaches(value, policy.thresholds.high_confidence):
        return "high"
    if reaches(value, policy.thresholds.low_confidence):
        return "low"
    return "none"


def submitter_confidence(value: float, policy: Policy) -> Confidence:
    """A quoted submitter's confidence: "high" when its own support reaches the sure bar
    (`Thresholds.sure_bar`), else "low"."""
    return "high" if reaches(value, policy.thresholds.sure_bar) else "low"


def chosen_documents(query: Query, ranked: Sequence[Scored], policy: Policy) -> frozenset[str]:
    """The documents that answer: named ones if the question names any that discuss it; for a
    question about the whole corpus every document over the bar (an absolute score, and
    `corpus_gap` under the closest); otherwise those nearly as close as the closest
    (`specific_gap`). The closest document is always among them."""
    ranked = [d for d in ranked if len(d.order)]
    if not ranked:
        return frozenset()
    top = ranked[0]
    floor = max(policy.thresholds.submitter_threshold, top.best - policy.thresholds.corpus_gap)
    relevant = [d for d in ranked if d.best >= floor] or [top]
    named = [d for d in relevant if d.document.document_id in query.named_documents]
    if named:
        return ids(named)
    if query.corpus_wide:
        return ids(relevant)
    return ids(d for d in relevant if d.best >= top.best - policy.thresholds.specific_gap)


def ids(documents: Iterable[Scored]) -> frozenset[str]:
    return frozenset(d.document.document_id for d in documents)


def quote_rows(found: Scored, per_document: int, settings: AnswerSettings) -> list[int]:
    """Positions of the candidates to quote: of the `per_document` closest, the best sentence,
    then more that are nearly as close, in their order of closeness, at most
    `max_sentences_per_submitter`; a wording the document repeats is quoted once."""
    if not len(found.order):
        return []
    floor = found.best - settings.quote_gap
    chosen: list[int] = []
    wordings: set[int] = set()
    for position in found.order[:per_document].tolist():
        said = int(found.evidence.candidates.wording[position])
        if found.scores[position] >= floor and said not in wordings:
            chosen.append(position)
            wordings.add(said)
    return chosen[: settings.max_sentences_per_submitter]


def citation(n: int, doc: Document, sentence: Sentence, score: float) -> Citation:
    return Citation(
        n=n,
        document_id=doc.document_id,
        source=doc.source,
        submitter=doc.submitter,
        submitter_type=doc.submitter_type,
        section=section_at(doc, sentence.start),
        page=page_at(doc, sentence.start),
        quote=doc.text[sentence.start : sentence.end],
        start=sentence.start,
        end=sentence.end,
        score=round(score, 4),
    )


def is_exact(quote: Citation, document: Document) -> bool:
    """The check every quote passes before it leaves: quote == text[start:end]."""
    exact = bool(quote.quote) and document.text[quote.start : quote.end] == quote.quote
    if not exact:
        log.error("dropping quote %s[%d:%d]", quote.document_id, quote.start, quote.end)
    return exact


def decide(
    query: Query,
    evidence: Evidence,
    policy: Policy,
    settings: AnswerSettings,
    per_document: int | None = None,
) -> Decision:
    """Overall confidence and, per document in scope, whether and how it discusses the
    question: a pure function of the evidence's features and the policy. Quotes are numbered
    in the order they will be shown (closest document first); a document's quotes come from its
    `per_document` closest sentences (default `settings.k`)."""
    scored = score_documents(evidence, policy, settings)
    scored.sort(key=lambda d: -d.best)  # stable: index order among equals
    overall = corpus_support(scored, policy, evidence.coverage)
    confidence = confidence_of(overall, policy)
    chosen = chosen_documents(query, scored, policy) if confidence != "none" else frozenset()
    rows: list[SubmitterDecision] = []
    numbered = 0
    for found in scored:
        best = round(found.best, 4)
        if found.document.document_id not in chosen:
            rows.append(SubmitterDecision(found.document, "none", (), best))
            continue
        quotes, quoted_rows = [], []
        for position in quote_rows(found, per_document or settings.k, settings):
            row = int(found.evidence.candidates.rows[position])
            sentence, score = evidence.sentences[row], float(found.scores[position])
            quote = citation(numbered + 1, found.document, sentence, score)
            if is_exact(quote, found.document):
                quotes.append(quote)
                quoted_rows.append(row)
                numbered += 1
        confident = submitter_confidence(found.support, policy) if quotes else "none"
        rows.append(
            SubmitterDecision(found.document, confident, tuple(quotes), best, tuple(quoted_rows))
        )
    if not any(r.quotes for r in rows):
        confidence = "none"
    return Decision(confidence, tuple(rows), overall)
