"""Hybrid retrieval: dense (FAISS) and Norwegian BM25, fused by weighted reciprocal rank fusion."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from rag.config import RetrievalSettings
from rag.dense import search as faiss_search
from rag.embed import Embedder
from rag.errors import InvalidFilter
from rag.store import StoredIndex, stored_vectors
from rag.types import Document, Hit

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class Filters:
    submitter: tuple[str, ...] = ()
    submitter_type: tuple[str, ...] = ()
    document_id: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.submitter or self.submitter_type or self.document_id)

    def admits(self, document: Document) -> bool:
        """Each filter given must list the document's value; an empty filter lets all pass."""
        return (
            (not self.submitter or document.submitter in self.submitter)
            and (not self.submitter_type or document.submitter_type in self.submitter_type)
            and (not self.document_id or document.document_id in self.document_id)
        )


NO_FILTERS = Filters()
QUERY_CACHE_SIZE = 1024


@dataclass(frozen=True)
class Ranking:
    """Rows of the store, best first, with the retriever's own scores."""

    rows: NDArray[np.int64]
    scores: NDArray[np.float32]


def fused_scores(
    n_rows: int, rankings: Sequence[tuple[Ranking, float]], rrf_k: int
) -> NDArray[np.float64]:
    """Reciprocal rank fusion over every row at once (rows in no ranking score 0)."""
    fused = np.zeros(n_rows, dtype=np.float64)
    for ranking, weight in rankings:
        fused[ranking.rows] += weight / (rrf_k + np.arange(1, len(ranking.rows) + 1))
    return fused


def rrf(
    rankings: Sequence[tuple[Ranking, float]], rrf_k: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Weighted reciprocal rank fusion of the rows in any ranking, best first, ties by row."""
    rows = np.unique(np.concatenate([np.empty(0, np.int64), *(r.rows for r, _ in rankings)]))
    if len(rows) == 0:
        return rows.astype(np.int64), np.empty(0, np.float64)
    fused = fused_scores(int(rows[-1]) + 1, rankings, rrf_k)[rows]
    order = np.lexsort((rows, -fused))
    return rows[order].astype(np.int64), fused[order]


def top_rows(scores: NDArray[np.float32], rows: NDArray[np.int64], k: int) -> Ranking:
    """The k best of `scores` (aligned with `rows`), best first, ties by row."""
    k = min(k, len(rows))
    if k == 0:
        return Ranking(np.empty(0, np.int64), np.empty(0, np.float32))
    # argpartition splits the scores tied with the k-th best in no particular order, so the
    # ties are cut by row here (without sorting them: BM25 ties thousands of rows at 0).
    kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
    better = np.flatnonzero(scores > kth)
    tied = np.flatnonzero(scores == kth)
    need = k - len(better)
    if len(tied) > need:
        tied = tied[np.argpartition(rows[tied], need - 1)[:need]]
    chosen = np.concatenate([better, tied])
    order = chosen[np.lexsort((rows[chosen], -scores[chosen]))]
    return Ranking(rows[order], scores[order])


class Retriever:
    """Searches one loaded index; cheap to call concurrently (read-only state)."""

    def __init__(self, index: StoredIndex, embedder: Embedder, settings: RetrievalSettings) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self._vectors = stored_vectors(index)
        self._query_cache: dict[str, NDArray[np.float32]] = {}
        self._cache_lock = threading.Lock()
        self._doc_of_row = np.array([c.document_id for c in index.chunks], dtype=object)
        self._doc_code_of_row = np.unique(self._doc_of_row.astype(str), return_inverse=True)[1]

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

    def allowed_rows(self, filters: Filters) -> NDArray[np.int64] | None:
        """Rows that pass the filters, or None when nothing is filtered."""
        if filters.empty:
            return None
        self.check_filters(filters)
        admitted = [i for i, d in self.index.documents.items() if filters.admits(d)]
        return np.flatnonzero(np.isin(self._doc_of_row, admitted)).astype(np.int64)

    # --- the two retrievers ------------------------------------------------------------------

    def embed_query(self, query: str) -> NDArray[np.float32]:
        """The query's vector; repeated questions (shared links, UI reruns) hit a small cache."""
        with self._cache_lock:
            vector = self._query_cache.get(query)
        if vector is None:
            vector = self.embedder.embed_queries([query])[0]
            with self._cache_lock:
                if len(self._query_cache) >= QUERY_CACHE_SIZE:
                    self._query_cache.pop(next(iter(self._query_cache)))
                self._query_cache[query] = vector
        return vector

    def embed_queries(self, queries: Sequence[str]) -> list[NDArray[np.float32]]:
        """Vectors of several queries: cached ones from the cache, the rest in one batch."""
        with self._cache_lock:
            known = {q: self._query_cache[q] for q in queries if q in self._query_cache}
        missing = list(dict.fromkeys(q for q in queries if q not in known))
        if missing:
            for query, vector in zip(missing, self.embedder.embed_queries(missing), strict=True):
                known[query] = vector
                with self._cache_lock:
                    if len(self._query_cache) >= QUERY_CACHE_SIZE:
                        self._query_cache.pop(next(iter(self._query_cache)))
                    self._query_cache[query] = vector
        return [known[q] for q in queries]

    def dense(
        self, query_vector: NDArray[np.float32], k: int, rows: NDArray[np.int64] | None
    ) -> Ranking:
        if rows is None:
            scores, found = faiss_search(self.index.vectors, query_vector[None, :], k)
            keep = found[0] >= 0
            return Ranking(found[0][keep].astype(np.int64), scores[0][keep])
        return top_rows(self._vectors[rows] @ query_vector, rows, k)

    def bm25(self, query: str, k: int, rows: NDArray[np.int64] | None) -> Ranking:
        scores = self.index.bm25.scores(query)
        rows = np.arange(len(scores), dtype=np.int64) if rows is None else rows
        ranking = top_rows(scores[rows], rows, k)
        keep = ranking.scores > 0  # a chunk that shares no word with the query is no BM25 hit
        return Ranking(ranking.rows[keep], ranking.scores[keep])

    def cosine(
        self, query_vector: NDArray[np.float32], rows: NDArray[np.int64]
    ) -> NDArray[np.float32]:
        result: NDArray[np.float32] = self._vectors[rows] @ query_vector
        return result

    # --- hybrid ------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int,
        filters: Filters = NO_FILTERS,
        mode: Mode = "hybrid",
        query_vector: NDArray[np.float32] | None = None,
    ) -> list[Hit]:
        """The k best chunks for `query`; `Hit.score` is the fused (or single) retriever score."""
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; choose one of {MODES}")
        rows = self.allowed_rows(filters)
        depth = max(k, self.settings.candidates)
        if query_vector is None and mode != "bm25":
            query_vector = self.embed_query(query)
        dense = (
            self.dense(query_vector, depth, rows)
            if query_vector is not None and mode != "bm25"
            else None
        )
        lexical = self.bm25(query, depth, rows) if mode != "dense" else None
        if mode == "dense" and dense is not None:
            order, fused = dense.rows[:k], dense.scores[:k].astype(np.float64)
        elif mode == "bm25" and lexical is not None:
            order, fused = lexical.rows[:k], lexical.scores[:k].astype(np.float64)
        else:
            assert dense is not None and lexical is not None
            order, fused = rrf(
                [(dense, self.settings.dense_weight), (lexical, self.settings.bm25_weight)],
                self.settings.rrf_k,
            )
            order, fused = order[:k], fused[:k]
        return self.to_hits(order, fused, dense, lexical, query_vector)

    def best_per_document(
        self,
        query: str,
        query_vector: NDArray[np.float32],
        filters: Filters = NO_FILTERS,
        per_document: int = 5,
        max_documents: int = 50,
    ) -> list[Hit]:
        """Each document's best passages, fused over all its chunks.

        A question about the whole corpus must reach every submitter that discusses it, not
        only the top of the longest document, so this ranks every chunk (a matrix product and
        BM25 over the corpus) instead of taking a global top k.
        """
        rows = self.allowed_rows(filters)
        rows = np.arange(len(self.index.chunks), dtype=np.int64) if rows is None else rows
        dense = top_rows(self._vectors[rows] @ query_vector, rows, len(rows))
        lexical = self.bm25(query, len(rows), rows)
        fused = fused_scores(
            len(self.index.chunks),
            [(dense, self.settings.dense_weight), (lexical, self.settings.bm25_weight)],
            self.settings.rrf_k,
        )[rows]
        codes = self._doc_code_of_row[rows]
        best_first = first_per_group(codes, fused, 1)
        top_documents = codes[best_first[np.argsort(-fused[best_first], kind="stable")]]
        keep = first_per_group(codes, fused, per_document)
        keep = keep[np.isin(codes[keep], top_documents[:max_documents])]
        order = keep[np.argsort(-fused[keep], kind="stable")]
        return self.to_hits(rows[order], fused[order], dense, lexical, query_vector)

    def to_hits(
        self,
        order: NDArray[np.int64],
        fused: NDArray[np.float64],
        dense: Ranking | None,
        lexical: Ranking | None,
        query_vector: NDArray[np.float32] | None,
    ) -> list[Hit]:
        dense_rank = rank_lookup(dense)
        bm25_rank = rank_lookup(lexical)
        cosines = self.cosine(query_vector, order) if query_vector is not None else None
        return [
            Hit(
                chunk=self.index.chunks[row],
                score=float(score),
                dense_rank=dense_rank.get(row),
                bm25_rank=bm25_rank.get(row),
                similarity=float(cosines[i]) if cosines is not None else None,
            )
            for i, (row, score) in enumerate(zip(order.tolist(), fused.tolist(), strict=True))
        ]


def first_per_group(
    groups: NDArray[np.int64], scores: NDArray[np.float64], per_group: int
) -> NDArray[np.int64]:
    """Positions of the `per_group` best scores within each group."""
    order = np.lexsort((-scores, groups))
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    return order[np.arange(len(order)) - group_start < per_group].astype(np.int64)


def rank_lookup(ranking: Ranking | None) -> dict[int, int]:
    if ranking is None:
        return {}
    return {row: rank for rank, row in enumerate(ranking.rows.tolist(), start=1)}
