"""The sentence layer of the index: every sentence of every document with its own vector.

Dense similarity of a whole chunk lets one relevant sentence drown in its neighbours; scoring
a chunk by its best sentence, and choosing quotes by the sentences' own vectors (each taken
together with its chunk's, which carries submitter and section), finds the passage that says it
in other words. Files in a build:

    sentences.jsonl          one sentence a line: document, offsets, chunk rows that hold it
    sentence_vectors.faiss   the vector index of the sentences (`rag.vector_index`: exact below
                             a size, IVF above), one row per sentence, with its spec beside it
                             (sentence_vectors.faiss.json)
    sentence_typicality.npy  float32, how generic each sentence is in this corpus, one column per
                             encoder (`rag.neighbours`)
    sentence_neighbours.npz  each sentence's closest others per encoder, which the next build
                             of a changed corpus starts from (`rag.neighbours.updated`); the
                             service does not read it
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from rag.neighbours import Keys, Neighbours, closest_per_encoder, read_neighbours, updated
from rag.pages import section_at
from rag.sentences import sentence_spans
from rag.types import Chunk, Document, Sentence
from rag.vector_index import FaissIndex, IndexSpec, build, choose_spec, distinct, load

SENTENCES = "sentences.jsonl"
SENTENCE_VECTORS = "sentence_vectors.faiss"
SENTENCE_TYPICALITY = "sentence_typicality.npy"
SENTENCE_NEIGHBOURS = "sentence_neighbours.npz"


def document_sentences(doc: Document, chunks: Sequence[tuple[int, Chunk]]) -> list[Sentence]:
    """The sentences of one document with the rows of the chunks that overlap each of them.

    One pass over the sentences and the chunks, both in text order: a sentence looks only at
    the chunks from the first that has not ended before it to the last that starts before its
    end, so the work grows with the document, not with its square (a 4 MB text took 8.6 s when
    every sentence scanned every chunk)."""
    ordered = sorted(chunks, key=lambda item: (item[1].start, item[0]))
    found = []
    first = 0  # no chunk before this one overlaps the current sentence or any later one
    for span in sentence_spans(doc.text):
        while first < len(ordered) and ordered[first][1].end <= span.start:
            first += 1
        rows = []
        following = first
        while following < len(ordered) and ordered[following][1].start < span.end:
            row, chunk = ordered[following]
            if chunk.end > span.start:
                rows.append(row)
            following += 1
        found.append(Sentence(doc.document_id, span.start, span.end, tuple(sorted(rows))))
    return found


def split_sentences(documents: Sequence[Document], chunks: Sequence[Chunk]) -> list[Sentence]:
    """Every sentence of every document, in document order."""
    by_document: dict[str, list[tuple[int, Chunk]]] = {}
    for row, chunk in enumerate(chunks):
        by_document.setdefault(chunk.document_id, []).append((row, chunk))
    return [s for d in documents for s in document_sentences(d, by_document.get(d.document_id, []))]


def led_by_context(text: str, doc: Document, section: str | None) -> str:
    """A passage as it is embedded with its context: submitter and section, then the text."""
    context = " – ".join(p for p in (doc.submitter, section) if p)
    return f"{context}\n{text}"


def sentence_passage(sentence: Sentence, doc: Document, with_context: bool) -> str:
    """What is embedded for a sentence: its text, optionally led by submitter and section."""
    text = doc.text[sentence.start : sentence.end]
    return led_by_context(text, doc, section_at(doc, sentence.start)) if with_context else text


def write_sentences(folder: Path, layer: SentenceLayer) -> None:
    with (folder / SENTENCES).open("w", encoding="utf-8") as handle:
        for s in layer.sentences:
            record = [s.document_id, s.start, s.end, list(s.chunk_rows)]
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    layer.index.save(folder / SENTENCE_VECTORS)
    np.save(folder / SENTENCE_TYPICALITY, np.ascontiguousarray(layer.typicality, np.float32))
    if layer.neighbours is not None:
        layer.neighbours.save(folder / SENTENCE_NEIGHBOURS)


def kept_neighbours(folder: Path, sentences: int) -> Neighbours | None:
    """The neighbours the build at `folder` (of `sentences` sentences, as its manifest says)
    kept for the next one, if it kept any that fit them."""
    found = read_neighbours(folder / SENTENCE_NEIGHBOURS)
    return found if found is not None and len(found.keys) == sentences else None


def read_sentences(folder: Path) -> SentenceLayer:
    with (folder / SENTENCES).open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    sentences = tuple(
        Sentence(str(d), int(a), int(b), tuple(map(int, r))) for d, a, b, r in records
    )
    index = load(folder / SENTENCE_VECTORS)
    if index.size != len(sentences):
        raise ValueError(f"{SENTENCE_VECTORS} holds {index.size} rows, expected {len(sentences)}")
    typical = np.load(folder / SENTENCE_TYPICALITY, allow_pickle=False)
    if typical.dtype != np.float32 or typical.ndim != 2 or len(typical) != len(sentences):
        raise ValueError(
            f"{SENTENCE_TYPICALITY} holds {typical.shape} {typical.dtype}, "
            f"expected {len(sentences)} float32 rows"
        )
    return SentenceLayer.of(sentences, index, typical)


@dataclass(frozen=True)
class SentenceLayer:
    """Sentences, their vector index, and the arrays retrieval needs to use them fast."""

    sentences: tuple[Sentence, ...]
    index: FaissIndex  # one row per sentence
    typicality: NDArray[np.float32]  # per sentence and encoder (`rag.neighbours`)
    # Every (chunk row, sentence row) pair where the sentence overlaps the chunk, in sentence
    # order; and the same pairs in chunk order.
    pair_chunk: NDArray[np.int64]
    pair_sentence: NDArray[np.int64]
    by_chunk: NDArray[np.int64]  # positions of the pairs, in chunk order
    chunk_order: NDArray[np.int64]  # pair_chunk[by_chunk]: the pairs' chunk rows, ascending
    neighbours: Neighbours | None = None  # kept by a build for the next one, not read to serve

    @classmethod
    def of(
        cls,
        sentences: tuple[Sentence, ...],
        index: FaissIndex,
        typical: NDArray[np.float32],
        neighbours: Neighbours | None = None,
    ) -> SentenceLayer:
        """The layer of `sentences`, their vector `index` and their typicality."""
        pairs = [(row, i) for i, s in enumerate(sentences) for row in s.chunk_rows]
        table = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        by_chunk = np.argsort(table[:, 0], kind="stable").astype(np.int64)
        pair_chunk, pair_sentence = table[:, 0].copy(), table[:, 1].copy()
        chunk_order = pair_chunk[by_chunk]
        return cls(
            sentences, index, typical, pair_chunk, pair_sentence, by_chunk, chunk_order, neighbours
        )

    @classmethod
    def built(
        cls,
        sentences: tuple[Sentence, ...],
        vectors: NDArray[np.float32],
        blocks: Sequence[slice],
        spec: IndexSpec | None = None,
        keys: Keys | None = None,
        previous: Neighbours | None = None,
    ) -> SentenceLayer:
        """The layer of `sentences` with these vectors (one row each, every encoder's block
        side by side): their vector index (`spec`, else the kind their number calls for) and
        their typicality per encoder, by nearest-neighbour search, or from the neighbours a
        `previous` build of these encoders kept. With `keys` (`rag.neighbours.passage_keys` of
        the texts embedded) the layer keeps its neighbours for the next build."""
        chosen = spec or choose_spec(len(vectors), vectors.shape[1])
        index = build(vectors, chosen)
        columns = blocks or [slice(None)]
        rows = keys if keys is not None else np.zeros(len(vectors), dtype=np.uint64)
        if previous is not None and keys is not None:
            found = updated(previous, vectors, columns, rows)
        else:
            found = closest_per_encoder(vectors, columns, rows)
        kept = found if keys is not None else None
        return cls.of(sentences, index, found.typicality(), kept)

    @property
    def vectors(self) -> NDArray[np.float32]:
        """Every sentence's vector, as float32: for brute-force references and small indexes;
        retrieval reads the rows it needs (`index.vectors`)."""
        return self.index.vectors(np.arange(self.index.size, dtype=np.int64))

    def rows(self, start: int, end: int) -> NDArray[np.float32]:
        """The vectors of sentence rows start..end-1."""
        return self.index.vectors(np.arange(start, end, dtype=np.int64))

    def chunks_of(self, sentence_rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """The chunk rows that hold any of these (sorted, distinct) sentence rows."""
        return distinct(self.pair_chunk[self.pairs_of_sentences(sentence_rows)])

    def sentences_of(self, chunk_rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """The sentence rows held by any of these chunk rows."""
        return distinct(self.pair_sentence[self.pairs_of_chunks(chunk_rows)])

    def best_per_chunk(
        self,
        cosines: NDArray[np.float32],
        n_chunks: int,
        chunk_rows: NDArray[np.int64] | None = None,
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """For every chunk row (of `chunk_rows` only, when given; `cosines` must then hold the
        sentences those chunks hold): its best sentence cosine (-1 if none) and that
        sentence's row."""
        best = np.full(n_chunks, -1.0, dtype=np.float32)
        which = np.full(n_chunks, -1, dtype=np.int64)
        # the pairs in chunk order, each chunk's sentences ascending (`by_chunk` is stable)
        positions = self.by_chunk if chunk_rows is None else self.pairs_of_chunks(chunk_rows)
        if not len(positions):
            return best, which
        chunks, sentences = self.pair_chunk[positions], self.pair_sentence[positions]
        scores = cosines[sentences]
        starts = np.flatnonzero(np.r_[True, chunks[1:] != chunks[:-1]])
        top = np.maximum.reduceat(scores, starts)
        lengths = np.diff(np.r_[starts, len(scores)])
        at_top = np.where(scores == np.repeat(top, lengths), np.arange(len(scores)), len(scores))
        first = np.minimum.reduceat(at_top, starts)  # the earliest sentence of a tie
        best[chunks[starts]] = top
        which[chunks[starts]] = sentences[first]
        return best, which

    def pairs_of_chunks(self, chunk_rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """Positions of the (chunk, sentence) pairs of these chunk rows."""
        lo = np.searchsorted(self.chunk_order, chunk_rows, side="left")
        hi = np.searchsorted(self.chunk_order, chunk_rows, side="right")
        found: NDArray[np.int64] = self.by_chunk[spanned(lo, hi)]
        return found

    def pairs_of_sentences(self, sentence_rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """Positions of the (chunk, sentence) pairs of these sentence rows."""
        lo = np.searchsorted(self.pair_sentence, sentence_rows, side="left")
        hi = np.searchsorted(self.pair_sentence, sentence_rows, side="right")
        return spanned(lo, hi)


def spanned(lo: NDArray[np.int64], hi: NDArray[np.int64]) -> NDArray[np.int64]:
    """The positions lo[0]..hi[0]-1, lo[1]..hi[1]-1, … in one array (empty spans add none)."""
    lengths = np.maximum(np.asarray(hi, np.int64) - np.asarray(lo, np.int64), 0)
    starts = np.repeat(np.asarray(lo, np.int64) - np.cumsum(lengths) + lengths, lengths)
    found: NDArray[np.int64] = starts + np.arange(int(lengths.sum()), dtype=np.int64)
    return found
