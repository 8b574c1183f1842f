"""Retrieval by meaning and by words: chunk vectors, sentence vectors and Norwegian BM25.

Every stored vector holds each encoder's unit vector side by side (`rag.encoders`), and the
policy (`rag.policy`) weighs the encoders. A chunk is ranked three ways for a question: by its
own vector, by its best sentence's vector (plus a share of the chunk's, `chunk_mix`), and by BM25;
the rankings are fused by weighted reciprocal rank fusion (/search). `/ask` works on sentences
directly: `evidence` gives every document's candidate sentences with the features the decision
reads (`rag.scoring`, `rag.decide`).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from rag.candidates import (
    CANDIDATES,
    Layout,
    chunk_candidates,
    document_candidates,
    exhaustive,
)
from rag.config import RetrievalSettings
from rag.embed import Embedder
from rag.encoders import as_encoder_set
from rag.errors import InvalidFilter
from rag.fusion import Ranking, distinct_passages, rank_lookup, rrf, top_rows
from rag.lexical import WordSet, content_terms, overlaps
from rag.policy import Fusion, Policy
from rag.query import Query
from rag.scoring import narrowed, segments_of, weight_vector
from rag.sentences import wording
from rag.statements import is_statement
from rag.store import StoredIndex, stored_vectors
from rag.types import Candidates, DocumentEvidence, Evidence, Filters, Hit
from rag.vector_index import FaissIndex, distinct

Mode = Literal["hybrid", "dense", "sentence", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "sentence", "bm25")
QUERY_CACHE_SIZE = 1024
# A large index's decision scores the documents with a sentence within this many `corpus_gap`s
# of the closest (a sentence's cosine is not its score in context, so twice the gap).
REACH_GAPS = 2.0
NO_ROWS = np.empty(0, dtype=np.int64)


def wording_ids(index: StoredIndex) -> NDArray[np.int64]:
    """Per sentence row, a number shared by the sentences with the same wording."""
    numbers: dict[str, int] = {}
    ids = []
    for s in index.sentences.sentences:
        said = wording(index.documents[s.document_id].text[s.start : s.end])
        ids.append(numbers.setdefault(said, len(numbers)))
    return np.array(ids, dtype=np.int64)


def quotable_rows(index: StoredIndex) -> dict[str, NDArray[np.int64]]:
    """Per document, the rows of its sentences that can be quoted (statements)."""
    rows: dict[str, list[int]] = {}
    for row, sentence in enumerate(index.sentences.sentences):
        if is_statement(index.documents[sentence.document_id], sentence):
            rows.setdefault(sentence.document_id, []).append(row)
    return {doc: np.array(r, dtype=np.int64) for doc, r in rows.items()}


def centred_typicality(
    typicality: NDArray[np.float32], quotable: dict[str, NDArray[np.int64]]
) -> NDArray[np.float32]:
    """Each encoder's typicality less its median over the quotable sentences (a typical
    sentence loses nothing)."""
    every = np.concatenate([NO_ROWS, *quotable.values()])
    centre = np.median(typicality[every], axis=0) if len(every) else 0.0
    centred: NDArray[np.float32] = (typicality - centre).astype(np.float32)
    return centred


def encoder_blocks(index: StoredIndex) -> list[slice]:
    """Each encoder's columns in a stored vector."""
    edges = np.cumsum([0, *(e.dimension for e in index.manifest.encoders)]).tolist()
    return [slice(a, b) for a, b in itertools.pairwise(edges)]


def per_encoder(
    vectors: NDArray[np.float32], query: NDArray[np.float32], blocks: Sequence[slice]
) -> NDArray[np.float32]:
    """Each row's cosine to `query` in every encoder's block: one column per encoder."""
    columns = [vectors[:, b] @ query[b] for b in blocks]
    return np.stack(columns, axis=1).astype(np.float32).reshape(len(vectors), len(blocks))


def stored_per_encoder(
    index: FaissIndex, rows: NDArray[np.int64], query: NDArray[np.float32], blocks: Sequence[slice]
) -> NDArray[np.float32]:
    """`per_encoder` of the index's stored `rows`, a block at a time (`FaissIndex.scored_rows`:
    at 100,000 rows 0.15 s against 0.27 s a question widening them all at once, the same
    values)."""
    return index.scored_rows(rows, lambda vectors: per_encoder(vectors, query, blocks))


@dataclass(frozen=True)
class ChunkScores:
    """Every chunk row scored for one question."""

    dense: NDArray[np.float32]  # fused cosine of the chunk's own vector
    sentence: NDArray[np.float32]  # fused cosine of its best sentence
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
    rankings: dict[Mode, Ranking], fusion: Fusion, rrf_k: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Weighted reciprocal rank fusion of the rankings with a weight above zero."""
    weights: dict[Mode, float] = {
        "sentence": fusion.sentence_weight,
        "dense": fusion.dense_weight,
        "bm25": fusion.bm25_weight,
    }
    chosen = [(rankings[mode], w) for mode, w in weights.items() if w > 0]
    return rrf(chosen, rrf_k)


def best_passages(
    scores: ChunkScores,
    rows: NDArray[np.int64],
    fusion: Fusion,
    rrf_k: int,
    mode: Mode,
    k: int,
) -> tuple[NDArray[np.int64], NDArray[np.float64], dict[Mode, Ranking]]:
    """The k best of `rows` by `mode` (hybrid: fused), with their scores and every ranking;
    overlapping chunks that share their best sentence count once."""
    rankings = rank_chunks(scores, rows, fusion.chunk_mix)
    if mode == "hybrid":
        order, fused = fuse(rankings, fusion, rrf_k)
    else:
        order, fused = rankings[mode].rows, rankings[mode].scores.astype(np.float64)
    keep = distinct_passages(order, scores.best_sentence, k)
    return order[keep], fused[keep], rankings


def remember(
    cache: dict[str, NDArray[np.float32]],
    found: dict[str, NDArray[np.float32]],
    keys: Sequence[str],
    vectors: NDArray[np.float32],
) -> None:
    """`keys`' `vectors` into `found` and the cache (the oldest entry out when it is full)."""
    for key, vector in zip(keys, vectors, strict=True):
        found[key] = vector
        if len(cache) >= QUERY_CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = vector


class Retriever:
    """Searches one loaded index under one policy; cheap to call concurrently (read-only)."""

    def __init__(
        self,
        index: StoredIndex,
        embedder: Embedder,
        policy: Policy,
        settings: RetrievalSettings,
    ) -> None:
        self.index = index
        self.embedder = as_encoder_set(embedder)
        self.policy = policy
        self.settings = settings
        self.encoders = tuple(e.identity for e in index.manifest.encoders)
        self.blocks = encoder_blocks(index)
        self.ranking_weights = weight_vector(policy, self.encoders, support=False)
        self.support_weights = weight_vector(policy, self.encoders, support=True)
        widths = [b.stop - b.start for b in self.blocks]
        self._query_weights = np.repeat(self.ranking_weights, widths).astype(np.float32)
        self._support_query_weights = np.repeat(self.support_weights, widths).astype(np.float32)
        self.layout = Layout.of(index)
        self.exhaustive = exhaustive(index)
        self._query_cache: dict[str, NDArray[np.float32]] = {}
        self._word_cache: dict[str, NDArray[np.float32]] = {}
        self._cache_lock = threading.Lock()
        self._quotable_rows = quotable_rows(index)
        self._wordings = wording_ids(index)
        self._typical = centred_typicality(index.sentences.typicality, self._quotable_rows)
        self._sentence_words: dict[int, WordSet] = {}

    def under(self, policy: Policy) -> Retriever:
        """A retriever over the same index under another policy, its question cache empty."""
        return Retriever(self.index, self.embedder, policy, self.settings)

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
        if filters.empty:
            return list(self.index.documents)
        return [i for i, d in self.index.documents.items() if filters.admits(d)]

    def allowed_rows(self, filters: Filters) -> NDArray[np.int64]:
        """Chunk rows of the admitted documents."""
        if filters.empty:
            return np.arange(len(self.index.chunks), dtype=np.int64)
        chosen = self.layout.positions(self.admitted(filters))
        return np.flatnonzero(np.isin(self.layout.chunk_owner, chosen)).astype(np.int64)

    # --- embedding ---------------------------------------------------------------------------

    def fused(self, vector: NDArray[np.float32]) -> NDArray[np.float32]:
        """A question's vector with each encoder's block weighted: its inner product with a
        stored vector is the fused similarity Σ w_e cos_e."""
        weighted: NDArray[np.float32] = vector * self._query_weights
        return weighted

    def embed_queries(self, texts: Sequence[str]) -> list[NDArray[np.float32]]:
        """Every encoder's unit vector side by side for each text (`embed_question`)."""
        return self.embed_question(texts, ())[0]

    def embed_question(
        self, texts: Sequence[str], words: Sequence[str]
    ) -> tuple[list[NDArray[np.float32]], list[NDArray[np.float32]]]:
        """Every encoder's vectors of `texts` side by side, and the first encoder's of `words`
        (where the vocabulary is), in one call (`EncoderSet.embed_with_words`); what was asked
        before comes from the cache (repeated questions: shared links, UI reruns)."""
        with self._cache_lock:
            known = {q: self._query_cache[q] for q in texts if q in self._query_cache}
            known_words = {w: self._word_cache[w] for w in words if w in self._word_cache}
        missing = list(dict.fromkeys(q for q in texts if q not in known))
        unknown = list(dict.fromkeys(w for w in words if w not in known_words))
        if missing or unknown:
            vectors, word_vectors = self.embedder.embed_with_words(missing, unknown)
            with self._cache_lock:
                remember(self._query_cache, known, missing, vectors)
                remember(self._word_cache, known_words, unknown, word_vectors)
        return [known[q] for q in texts], [known_words[w] for w in words]

    # --- chunks: /search ---------------------------------------------------------------------

    def fused_unit(self, rows: Sequence[int]) -> NDArray[np.float32]:
        """Sentence rows as unit vectors whose inner products are the fused similarity
        (each encoder's block scaled by the square root of its ranking weight)."""
        vectors = self.index.sentences.index.vectors(np.asarray(rows, dtype=np.int64))
        scaled: NDArray[np.float32] = vectors * np.sqrt(self._query_weights)
        norms = np.linalg.norm(scaled, axis=1, keepdims=True)
        unit: NDArray[np.float32] = (scaled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    def cosines(
        self, vector: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Each sentence's and each chunk's cosine to `vector`, one column per encoder (every
        row: for the calibration, which reads small indexes)."""
        return (
            per_encoder(self.index.sentences.vectors, vector, self.blocks),
            per_encoder(stored_vectors(self.index), vector, self.blocks),
        )

    def chunk_scores(self, query: Query) -> tuple[ChunkScores, NDArray[np.int64]]:
        """The chunk rows /search ranks (every allowed one in a small index, else the vector
        indexes' candidates among them, `rag.candidates`, and BM25's best) scored exactly:
        each its own fused cosine, its best sentence's, and BM25. Rows not ranked score -inf
        and have no best sentence."""
        vector = self.fused(query.vector)
        n = len(self.index.chunks)
        layer = self.index.sentences
        bm25 = self.index.bm25.scores(query.stems)
        rows = self.allowed_rows(query.filters)
        if self.exhaustive:
            held = np.arange(layer.index.size, dtype=np.int64)
        else:
            admitted = self.admitted(query.filters)
            lexical = top_rows(bm25[rows], rows, CANDIDATES).rows
            found = chunk_candidates(self.index, self.layout, vector, admitted)
            rows = distinct(np.concatenate([found, lexical[bm25[lexical] > 0]]))
            held = layer.sentences_of(rows)
        cosines = np.full(layer.index.size, -np.inf, dtype=np.float32)
        cosines[held] = layer.index.row_scores(held, vector)
        best, which = layer.best_per_chunk(cosines, n, None if self.exhaustive else rows)
        dense = np.full(n, -np.inf, dtype=np.float32)
        dense[rows] = self.index.vectors.row_scores(rows, vector)
        return ChunkScores(dense, best, which, bm25), rows

    def search(self, query: Query, k: int, mode: Mode = "hybrid") -> list[Hit]:
        """The k best chunks; `Hit.score` is the fused (or the single retriever's) score.
        Overlapping chunks that share their best sentence are returned once."""
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; choose one of {MODES}")
        scores, rows = self.chunk_scores(query)
        order, fused, rankings = best_passages(
            scores, rows, self.policy.fusion, self.settings.rrf_k, mode, k
        )
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

    def evidence(self, query: Query, per_document: int | None) -> Evidence:
        """Every admitted document with its candidate sentences and their features
        (`rag.scoring.narrowed` of its quotable sentences; all of them when `per_document` is
        None, as the calibration reads them). In a large index only the documents the vector
        indexes find close (`rag.candidates`) are scored; the others have no candidates."""
        if query.vocabulary_coverage is None:
            raise ValueError("a question parsed for /search cannot be answered: parse it to answer")
        admitted = self.admitted(query.filters)
        scored = set(self.scored_documents(query, admitted, per_document))
        parts = [self._quotable_rows.get(d, NO_ROWS) if d in scored else NO_ROWS for d in admitted]
        every = np.concatenate([NO_ROWS, *parts])
        own, chunk = self.features(query.topic_vector, every)
        segments = segments_of([len(rows) for rows in parts])
        positions = np.arange(len(every), dtype=np.int64)
        if per_document is not None:
            typical = self._typical[every]
            positions = narrowed(
                own, chunk, typical, self.policy, self.encoders, per_document, segments
            )
        chosen = every[positions]
        candidates = Candidates(
            chosen,
            own[positions],
            chunk[positions],
            self._typical[chosen],
            self._wordings[chosen],
            self.overlaps(query, chosen),
        )
        edges = np.searchsorted(segments[positions], np.arange(len(parts) + 1)).tolist()
        found = [
            DocumentEvidence(self.index.documents[document_id], candidates.take(slice(a, b)))
            for document_id, a, b in zip(admitted, edges[:-1], edges[1:], strict=True)
        ]
        sentences = self.index.sentences.sentences
        return Evidence(tuple(found), sentences, self.encoders, query.vocabulary_coverage)

    def scored_documents(
        self, query: Query, admitted: list[str], per_document: int | None
    ) -> list[str]:
        """The admitted documents scored for the decision: all of them in a small index or
        for the calibration, else those near the question under the ranking or the support
        weights (`rag.candidates.document_candidates`)."""
        if self.exhaustive or per_document is None:
            return admitted
        queries = np.stack(
            [self.fused(query.topic_vector), query.topic_vector * self._support_query_weights]
        )
        reach = REACH_GAPS * self.policy.thresholds.corpus_gap
        return document_candidates(self.index, self.layout, queries, admitted, reach)

    def features(
        self, topic: NDArray[np.float32], rows: NDArray[np.int64]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """For these (ascending) sentence rows: each one's own cosine to the question's topic
        and the cosine of the closest chunk that holds it (its own for a sentence in no chunk),
        one column per encoder."""
        layer = self.index.sentences
        own = stored_per_encoder(layer.index, rows, topic, self.blocks)
        pairs = layer.pairs_of_sentences(rows)
        chunk_rows, holder = np.unique(layer.pair_chunk[pairs], return_inverse=True)
        chunks = stored_per_encoder(self.index.vectors, chunk_rows, topic, self.blocks)
        closest = np.full(own.shape, -np.inf, dtype=np.float32)
        position = np.searchsorted(rows, layer.pair_sentence[pairs])
        np.maximum.at(closest, position, chunks[holder.reshape(-1)])
        chunk: NDArray[np.float32] = np.where(np.isfinite(closest), closest, own)
        return own, chunk

    def overlaps(self, query: Query, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        """The question's IDF-weighted words each sentence shares (`rag.lexical`)."""
        texts = [self.words_of(r) for r in rows.tolist()]
        return overlaps(query.terms, query.weights, texts).astype(np.float32)

    def words_of(self, sentence_row: int) -> WordSet:
        """A sentence's content words, tokenised once per loaded index."""
        words = self._sentence_words.get(sentence_row)
        if words is None:
            s = self.index.sentences.sentences[sentence_row]
            text = self.index.documents[s.document_id].text[s.start : s.end]
            words = WordSet.of(content_terms(text))
            self._sentence_words[sentence_row] = words  # a racing thread writes the same set
        return words
