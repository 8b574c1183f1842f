"""Retrieval by meaning and by words: chunk vectors, sentence vectors and Norwegian BM25.

A chunk is ranked three ways for a question: by its own vector, by its best sentence's vector
(plus a share of the chunk's, `chunk_mix`), and by BM25; the rankings are fused by weighted
reciprocal rank fusion. `/ask` works on sentences directly: `evidence` gives every document's
closest quotable sentences, and the support the corpus gives an answer (`support`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from rag.config import RetrievalSettings
from rag.embed import Embedder
from rag.errors import InvalidFilter
from rag.fusion import Ranking, distinct_passages, rank_lookup, rrf, top_rows
from rag.lexical import Term, content_terms, overlap_with
from rag.query import Query
from rag.sentences import wording
from rag.statements import is_statement
from rag.store import StoredIndex, stored_vectors
from rag.types import DocumentEvidence, Evidence, Filters, Hit, ScoredSentence

Mode = Literal["hybrid", "dense", "sentence", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "sentence", "bm25")
QUERY_CACHE_SIZE = 1024
NO_ROWS = np.empty(0, dtype=np.int64)


def best_distinct(
    scores: NDArray[np.float32], wordings: NDArray[np.int64], rows: NDArray[np.int64], n: int
) -> NDArray[np.int64]:
    """The `n` best of `rows` by score, one per wording (a template sentence sent by several
    submitters counts once), best first."""
    order = rows[np.argsort(-scores[rows], kind="stable")]
    _, first = np.unique(wordings[order], return_index=True)
    return order[np.sort(first)[:n]]


def support(scores: NDArray[np.float32], best: NDArray[np.int64], less: float = 0.0) -> float:
    """How strongly sentences support an answer: the mean score of the best distinct ones
    (`best_distinct`), less `less`. A topic the corpus discusses is said in several sentences;
    a question it does not cover lands on one stray sentence. -1 when there is nothing to
    quote."""
    return float(scores[best].mean()) - less if len(best) else -1.0


def wording_ids(index: StoredIndex) -> NDArray[np.int64]:
    """Per sentence row, a number shared by the sentences with the same wording."""
    numbers: dict[str, int] = {}
    ids = []
    for s in index.sentences.sentences:
        said = wording(index.documents[s.document_id].text[s.start : s.end])
        ids.append(numbers.setdefault(said, len(numbers)))
    return np.array(ids, dtype=np.int64)


def typicality_penalty(
    index: StoredIndex,
    quotable: dict[str, NDArray[np.int64]],
    weight: float,
    encoder_weights: NDArray[np.float64],
) -> NDArray[np.float32]:
    """What `support` takes off each sentence's cosine: `weight` × its typicality (each
    encoder's, weighted as the encoders' cosines are) above the median of the quotable
    sentences (`quotable_rows`; a typical sentence loses nothing)."""
    typical = (index.sentences.typicality @ encoder_weights).astype(np.float32)
    every = np.concatenate([NO_ROWS, *quotable.values()])
    centre = float(np.median(typical[every])) if len(every) else 0.0
    return (weight * (typical - centre)).astype(np.float32)


def quotable_rows(index: StoredIndex) -> dict[str, NDArray[np.int64]]:
    """Per document, the rows of its sentences that can be quoted (statements)."""
    rows: dict[str, list[int]] = {}
    for row, sentence in enumerate(index.sentences.sentences):
        if is_statement(index.documents[sentence.document_id], sentence):
            rows.setdefault(sentence.document_id, []).append(row)
    return {doc: np.array(r, dtype=np.int64) for doc, r in rows.items()}


@dataclass(frozen=True)
class ChunkScores:
    """Every chunk row scored for one question."""

    dense: NDArray[np.float32]  # cosine of the chunk's own vector
    sentence: NDArray[np.float32]  # cosine of its best sentence
    best_sentence: NDArray[np.int64]  # that sentence's row (-1: none)
    bm25: NDArray[np.float32]


def rank_chunks(
    scores: ChunkScores, rows: NDArray[np.int64], chunk_mix: float
) -> dict[Mode, Ranking]:
    """Each retriever's ranking of the allowed rows, best first (BM25: rows it scores)."""
    mixed = scores.sentence + chunk_mix * scores.dense
    lexical = top_rows(scores.bm25[rows], rows, len(rows))
    matched = lexical.scores > 0  # a chunk that shares no word with the question is no hit
    return {
        "dense": top_rows(scores.dense[rows], rows, len(rows)),
        "sentence": top_rows(mixed[rows], rows, len(rows)),
        "bm25": Ranking(lexical.rows[matched], lexical.scores[matched]),
    }


def fuse(
    rankings: dict[Mode, Ranking], settings: RetrievalSettings
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Weighted reciprocal rank fusion of the rankings with a weight above zero."""
    weights: dict[Mode, float] = {
        "sentence": settings.sentence_weight,
        "dense": settings.dense_weight,
        "bm25": settings.bm25_weight,
    }
    chosen = [(rankings[mode], w) for mode, w in weights.items() if w > 0]
    return rrf(chosen, settings.rrf_k)


def best_passages(
    scores: ChunkScores, rows: NDArray[np.int64], settings: RetrievalSettings, mode: Mode, k: int
) -> tuple[NDArray[np.int64], NDArray[np.float64], dict[Mode, Ranking]]:
    """The k best of `rows` by `mode` (hybrid: fused), with their scores and every ranking;
    overlapping chunks that share their best sentence count once."""
    rankings = rank_chunks(scores, rows, settings.chunk_mix)
    if mode == "hybrid":
        order, fused = fuse(rankings, settings)
    else:
        order, fused = rankings[mode].rows, rankings[mode].scores.astype(np.float64)
    keep = distinct_passages(order, scores.best_sentence, k)
    return order[keep], fused[keep], rankings


def weights_of(index: StoredIndex, weights: Sequence[float] | None) -> NDArray[np.float64]:
    count = len(index.manifest.encoders)
    chosen = np.array(weights if weights is not None else [1.0] + [0.0] * (count - 1))
    if chosen.shape != (count,) or (chosen < 0).any() or chosen.sum() <= 0:
        raise ValueError(f"encoder weights {weights!r} do not fit the {count} encoders")
    return (chosen / chosen.sum()).astype(np.float64)


class Retriever:
    """Searches one loaded index; cheap to call concurrently (read-only state)."""

    def __init__(
        self,
        index: StoredIndex,
        embedder: Embedder,
        settings: RetrievalSettings,
        encoder_weights: Sequence[float] | None = None,
        support_weights: Sequence[float] | None = None,
    ) -> None:
        """`encoder_weights`: each encoder's share of the fused similarity that ranks and
        quotes, in the index's block order (`rag.policy`; None: all of it to the first);
        `support_weights` the same for the support that decides whether to answer (None: the
        same)."""
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.encoder_weights = weights_of(index, encoder_weights)
        self.support_weights = weights_of(index, support_weights or encoder_weights)
        widths = [e.dimension for e in index.manifest.encoders]
        self._query_weights = np.repeat(self.encoder_weights, widths).astype(np.float32)
        self._support_weights = np.repeat(self.support_weights, widths).astype(np.float32)
        self._word_block = slice(0, index.manifest.encoders[0].dimension)
        self._vectors = stored_vectors(index)
        self._query_cache: dict[str, NDArray[np.float32]] = {}
        self._cache_lock = threading.Lock()
        self._doc_of_row = np.array([c.document_id for c in index.chunks], dtype=object)
        self._quotable_rows = quotable_rows(index)
        self._wordings = wording_ids(index)
        self._penalty = typicality_penalty(
            index, self._quotable_rows, settings.typicality_weight, self.support_weights
        )
        self._sentence_terms: dict[int, list[Term]] = {}

    def renewed(self, settings: RetrievalSettings | None = None) -> Retriever:
        """A new retriever over the same index and encoder weights (other settings if given),
        its question cache empty."""
        return Retriever(
            self.index,
            self.embedder,
            settings or self.settings,
            self.encoder_weights.tolist(),
            self.support_weights.tolist(),
        )

    # --- filters ---------------------------------------------------------------------------

    def valid_values(self) -> dict[str, list[str]]:
        docs = self.index.documents.values()
        return {
            "submitter": sorted({d.submitter for d in docs}),
            "submitter_type": sorted({d.submitter_type for d in docs}),
            "document_id": sorted(self.index.documents),
        }

    def check_filters(self, filters: Filters) -> None:
        valid = self.valid_values()
        for name in ("submitter", "submitter_type", "document_id"):
            unknown = [v for v in getattr(filters, name) if v not in valid[name]]
            if unknown:
                raise InvalidFilter(
                    f"unknown {name} {', '.join(map(repr, unknown))}; valid values: "
                    + ", ".join(valid[name])
                )

    def admitted(self, filters: Filters) -> list[str]:
        """Ids of the documents the filters let through, in index order."""
        return [i for i, d in self.index.documents.items() if filters.admits(d)]

    def allowed_rows(self, filters: Filters) -> NDArray[np.int64]:
        """Chunk rows of the admitted documents."""
        if filters.empty:
            return np.arange(len(self.index.chunks), dtype=np.int64)
        return np.flatnonzero(np.isin(self._doc_of_row, self.admitted(filters))).astype(np.int64)

    # --- embedding ---------------------------------------------------------------------------

    def fused(self, vector: NDArray[np.float32]) -> NDArray[np.float32]:
        """A question's vector with each encoder's block weighted (`rag.encoders`): its inner
        product with a stored vector is the fused similarity."""
        weighted: NDArray[np.float32] = vector * self._query_weights
        return weighted

    def supporting(self, query: Query) -> NDArray[np.float32]:
        """Every sentence's own cosine to the question's topic under the support weights (what
        the refusal rests on may weigh the encoders otherwise than the ranking)."""
        if np.array_equal(self.support_weights, self.encoder_weights):
            return self.index.sentences.vectors @ self.fused(query.topic_vector)
        weighted = query.topic_vector * self._support_weights
        cosines: NDArray[np.float32] = self.index.sentences.vectors @ weighted
        return cosines

    def embed_words(self, texts: Sequence[str]) -> list[NDArray[np.float32]]:
        """Vectors of single words in the first encoder's space, where the vocabulary is."""
        return [vector[self._word_block] for vector in self.embed_queries(texts)]

    def embed_queries(self, texts: Sequence[str]) -> list[NDArray[np.float32]]:
        """Every encoder's unit vector side by side for each text (a `Query` holds these; the
        weights apply when it is scored, `fused`): cached ones from the cache (repeated
        questions: shared links, UI reruns), the rest in one call."""
        with self._cache_lock:
            known = {q: self._query_cache[q] for q in texts if q in self._query_cache}
        missing = list(dict.fromkeys(q for q in texts if q not in known))
        if missing:
            for text, vector in zip(missing, self.embedder.embed_queries(missing), strict=True):
                known[text] = vector
                with self._cache_lock:
                    if len(self._query_cache) >= QUERY_CACHE_SIZE:
                        self._query_cache.pop(next(iter(self._query_cache)))
                    self._query_cache[text] = vector
        return [known[q] for q in texts]

    # --- chunks: /search ---------------------------------------------------------------------

    def chunk_scores(self, query: Query) -> ChunkScores:
        vector = self.fused(query.vector)
        cosines: NDArray[np.float32] = self.index.sentences.vectors @ vector
        best, which = self.index.sentences.best_per_chunk(cosines, len(self.index.chunks))
        dense: NDArray[np.float32] = self._vectors @ vector
        return ChunkScores(dense, best, which, self.index.bm25.scores(query.stems))

    def search(self, query: Query, k: int, mode: Mode = "hybrid") -> list[Hit]:
        """The k best chunks; `Hit.score` is the fused (or the single retriever's) score.
        Overlapping chunks that share their best sentence are returned once."""
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; choose one of {MODES}")
        scores = self.chunk_scores(query)
        rows = self.allowed_rows(query.filters)
        order, fused, rankings = best_passages(scores, rows, self.settings, mode, k)
        return self.to_hits(order, fused, rankings, scores)

    def to_hits(
        self,
        order: NDArray[np.int64],
        fused: NDArray[np.float64],
        rankings: dict[Mode, Ranking],
        scores: ChunkScores,
    ) -> list[Hit]:
        dense_rank = rank_lookup(rankings["sentence"])
        bm25_rank = rank_lookup(rankings["bm25"])
        return [
            Hit(
                chunk=self.index.chunks[row],
                score=float(score),
                dense_rank=dense_rank.get(row),
                bm25_rank=bm25_rank.get(row),
                similarity=float(scores.sentence[row]),
            )
            for row, score in zip(order.tolist(), fused.tolist(), strict=True)
        ]

    # --- sentences: /ask ---------------------------------------------------------------------

    def evidence(self, query: Query, per_document: int) -> Evidence:
        """Every admitted document's closest quotable sentences, closest document first, with
        the support of each document and of all of them together (`support`).

        A sentence scores its similarity in context (`sentence_similarities`); a little lexical
        overlap breaks near-ties («fastlegeordningen» quoted over a sentence about GPs in
        general). Support rests on the sentences' own cosines less their typicality, less
        `vocabulary_weight` × the share of the question's words the corpus does not know
        (`Query.vocabulary_coverage`)."""
        if query.vocabulary_coverage is None:
            raise ValueError("a question parsed for /search cannot be answered: parse it to answer")
        topic = self.fused(query.topic_vector)
        own: NDArray[np.float32] = self.index.sentences.vectors @ topic
        cosines = self.sentence_similarities(topic, own)
        distinctive = self.supporting(query) - self._penalty
        unfamiliar = self.settings.vocabulary_weight * (1.0 - query.vocabulary_coverage)
        n = self.settings.support_sentences
        sentences = self.index.sentences.sentences
        found, picked = [], []
        for document_id in self.admitted(query.filters):
            document = self.index.documents[document_id]
            rows = self._quotable_rows.get(document_id, NO_ROWS)
            top = rows[np.argsort(-cosines[rows], kind="stable")[: per_document * 3]]
            scored = [
                ScoredSentence(
                    sentences[r],
                    float(cosines[r]),
                    float(cosines[r])
                    + self.settings.lexical_tiebreak
                    * overlap_with(query.terms, query.weights, self.terms_of(r)),
                )
                for r in top.tolist()
            ]
            scored.sort(key=lambda s: (-s.score, s.sentence.start))
            best = best_distinct(distinctive, self._wordings, rows, n)
            picked.append(best)
            found.append(
                DocumentEvidence(
                    document, tuple(scored[:per_document]), support(distinctive, best, unfamiliar)
                )
            )
        found.sort(key=lambda d: -d.best)
        # The corpus's n best distinct sentences are among the documents' own n best.
        candidates = np.concatenate([NO_ROWS, *picked])
        overall = best_distinct(distinctive, self._wordings, candidates, n)
        return Evidence(tuple(found), support(distinctive, overall, unfamiliar))

    def sentence_similarities(
        self, topic: NDArray[np.float32], own: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        """Every sentence's similarity to the question's `topic` (its fused vector) in its
        context: its own cosine `own` averaged, with weight `context_mix`, with the cosine of
        the closest chunk that holds it."""
        mix = self.settings.context_mix
        if mix == 0:
            return own
        layer = self.index.sentences
        chunks = self._vectors @ topic
        chunk = np.full(len(own), -np.inf, dtype=np.float32)
        np.maximum.at(chunk, layer.pair_sentence, chunks[layer.pair_chunk])
        chunk = np.where(np.isfinite(chunk), chunk, own)  # a sentence in no chunk: its own
        mixed: NDArray[np.float32] = ((own + mix * chunk) / (1 + mix)).astype(np.float32)
        return mixed

    def terms_of(self, sentence_row: int) -> list[Term]:
        """A sentence's content words, tokenised once per loaded index."""
        terms = self._sentence_terms.get(sentence_row)
        if terms is None:
            s = self.index.sentences.sentences[sentence_row]
            terms = content_terms(self.index.documents[s.document_id].text[s.start : s.end])
            self._sentence_terms[sentence_row] = terms  # a racing thread writes the same list
        return terms
