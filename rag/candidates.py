"""Which rows a question is scored on exactly: every row of a small index, the vector indexes'
candidates of a large one.

Retrieval takes its candidates from FAISS (`rag.vector_index`) and re-scores only those exactly
on the stored vectors. Where the sentence and chunk indexes are exact (flat: below
`rag.config.FLAT_BELOW` rows, the seeds and a consultation of a few hundred submissions) every
row is a candidate, scored exactly as by brute force. In IVF indexes /search scores the
`CANDIDATES` closest sentences' chunks and the `CANDIDATES` closest chunks. /ask and /matrix
score every document that holds one of the closest sentences or chunks (a document's rows are
contiguous, and the decision scores all of a candidate document's sentences); the sentences
are searched wider (`WIDEN`, more IVF lists probed and more candidates re-scored) until the
last one found is further than `reach` under the closest, so that every submitter a decision
could quote is scored. `rag bench` (the scale part) measures how often answers and matrix
cells equal those of scoring every row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rag.store import StoredIndex
from rag.vector_index import MISSING, FaissIndex, RowRanges, distinct

Rows = NDArray[np.int64]
CANDIDATES = 1_000  # rows taken from each vector index per question from an IVF index
WIDEN = 4  # the decision's sentence search: k times this until it reaches far enough
PROBE_WIDER = 2  # ... probing this many times the IVF lists (`FaissIndex.tuned`)
EVERY_ROW_SHARE = 0.25  # ... up to this share of the rows; a wider search takes them all


@dataclass(frozen=True)
class Layout:
    """Where each document's rows lie: its sentences and its chunks are contiguous."""

    sentences: dict[str, tuple[int, int]]
    chunks: dict[str, tuple[int, int]]
    sentence_owner: NDArray[np.int64]  # per sentence row, its document's position
    chunk_owner: NDArray[np.int64]  # per chunk row, its document's position
    documents: tuple[str, ...]  # document ids by position, in index order
    position: dict[str, int]  # document id -> its position

    @classmethod
    def of(cls, index: StoredIndex) -> Layout:
        documents = tuple(index.documents)
        position = {d: i for i, d in enumerate(documents)}
        sentence_owner = np.array(
            [position[s.document_id] for s in index.sentences.sentences], dtype=np.int64
        )
        chunk_owner = np.array([position[c.document_id] for c in index.chunks], dtype=np.int64)
        return cls(
            spans(documents, sentence_owner),
            spans(documents, chunk_owner),
            sentence_owner,
            chunk_owner,
            documents,
            position,
        )

    def sentence_rows(self, documents: Sequence[str]) -> RowRanges | None:
        """The admitted documents' sentence rows (None: every document, no restriction)."""
        if len(documents) == len(self.documents):
            return None
        return RowRanges.of(*(self.sentences[d] for d in documents if d in self.sentences))

    def chunk_rows(self, documents: Sequence[str]) -> RowRanges | None:
        if len(documents) == len(self.documents):
            return None
        return RowRanges.of(*(self.chunks[d] for d in documents if d in self.chunks))

    def positions(self, documents: Iterable[str]) -> Rows:
        return np.array([self.position[d] for d in documents], dtype=np.int64)


def spans(documents: Sequence[str], owner: NDArray[np.int64]) -> dict[str, tuple[int, int]]:
    """Each document's rows as (start, end), rows being grouped by document."""
    if not len(owner):
        return {}
    edges = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1], True])
    found = {}
    for start, end in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        document = documents[int(owner[start])]
        if document in found:
            raise ValueError(f"the rows of {document} are not contiguous")
        found[document] = (start, end)
    return found


def exhaustive(index: StoredIndex) -> bool:
    """Whether every row is a candidate: the sentence and chunk indexes are exact (flat), so
    that a candidate search would scan every row anyway."""
    return index.sentences.index.spec.kind == "flat" and index.vectors.spec.kind == "flat"


def nearest(
    vectors: FaissIndex, queries: NDArray[np.float32], selection: RowRanges | None, k: int
) -> Rows:
    """The rows the vector index finds closest to any of `queries` (within `selection`)."""
    _, rows = vectors.search(queries, k, selection)
    return distinct(rows[rows != MISSING])


def chunk_candidates(
    index: StoredIndex, layout: Layout, vector: NDArray[np.float32], admitted: Sequence[str]
) -> Rows:
    """The chunk rows /search scores: the closest chunks and those holding the closest
    sentences, of the admitted documents."""
    sentences = nearest(index.sentences.index, vector, layout.sentence_rows(admitted), CANDIDATES)
    chunks = nearest(index.vectors, vector, layout.chunk_rows(admitted), CANDIDATES)
    held = index.sentences.chunks_of(sentences)
    if len(admitted) < len(layout.documents):
        held = held[np.isin(layout.chunk_owner[held], layout.positions(admitted))]
    return distinct(np.concatenate([chunks, held]))


def reaching(
    vectors: FaissIndex, queries: NDArray[np.float32], selection: RowRanges | None, reach: float
) -> Rows:
    """The rows closest to each query, CANDIDATES of them and WIDEN times more until, for every
    query, the last one found scores `reach` or more under its closest (or none are left).
    A search that would have to take more than EVERY_ROW_SHARE of the rows gives every row
    (of the selection) instead: the same documents are then scored as by scoring every row,
    without the wide searches (on the 100,000-sentence synthetic index the reach spans
    70-84 % of the sentences)."""
    spec = vectors.spec
    probes = min(spec.nlist, spec.nprobe * PROBE_WIDER)
    wider = vectors.tuned(nprobe=probes, rescore=spec.rescore * WIDEN)
    k = CANDIDATES
    while True:
        scores, rows = wider.search(queries, k, selection)
        last = rows[:, -1]
        far_enough = (last == MISSING) | (scores[:, -1] < scores[:, 0] - reach)
        if far_enough.all() or k >= vectors.size:
            return distinct(rows[rows != MISSING])
        k *= WIDEN
        if k > EVERY_ROW_SHARE * vectors.size:
            every: Rows = np.arange(vectors.size) if selection is None else selection.rows()
            return every


def document_candidates(
    index: StoredIndex,
    layout: Layout,
    queries: NDArray[np.float32],
    admitted: Sequence[str],
    reach: float,
) -> list[str]:
    """The admitted documents /ask and /matrix score, in index order: those holding one of the
    sentences within `reach` of the closest to any of `queries` (the question under the
    ranking and under the support weights), or one of the closest chunks."""
    sentence_rows = layout.sentence_rows(admitted)
    sentences = reaching(index.sentences.index, queries, sentence_rows, reach)
    chunks = nearest(index.vectors, queries, layout.chunk_rows(admitted), CANDIDATES)
    owners = np.concatenate([layout.sentence_owner[sentences], layout.chunk_owner[chunks]])
    found = {layout.documents[int(i)] for i in distinct(owners).tolist()}
    return [d for d in admitted if d in found]
