"""The sentence layer of the index: every sentence of every document with its own vector.

Dense similarity of a whole chunk lets one relevant sentence drown in its neighbours; scoring
a chunk by its best sentence, and choosing quotes by the sentences' own vectors (each taken
together with its chunk's, which carries submitter and section), finds the passage that says it
in other words. Files in a build:

    sentences.jsonl          one sentence a line: document, offsets, chunk rows that hold it
    sentence_vectors.npy     float32, one L2-normalised row per sentence (no pickle)
    sentence_typicality.npy  float32, how generic each sentence is in this corpus, one column per
                             encoder (`typicality`)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from rag.pages import section_at
from rag.sentences import sentence_spans
from rag.types import Chunk, Document, Sentence

SENTENCES = "sentences.jsonl"
SENTENCE_VECTORS = "sentence_vectors.npy"
SENTENCE_TYPICALITY = "sentence_typicality.npy"
TYPICAL_NEIGHBOURS = 5
SAME_WORDING = 0.999  # cosine from which two sentences count as one wording (template letters)
TYPICALITY_CELLS = 1 << 25  # cosines per block (128 MB of float32), whatever the corpus size


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


def typicality_per_encoder(
    vectors: NDArray[np.float32], blocks: Sequence[slice]
) -> NDArray[np.float32]:
    """`typicality` in each encoder's block of the vectors (rag/encoders.py), one column each."""
    columns = [typicality(np.ascontiguousarray(vectors[:, b])) for b in blocks]
    return np.stack(columns, axis=1).astype(np.float32).reshape(len(vectors), len(blocks))


def typicality(
    vectors: NDArray[np.float32], neighbours: int = TYPICAL_NEIGHBOURS
) -> NDArray[np.float32]:
    """How generic each sentence is in its corpus: the mean cosine of its `neighbours` closest
    other sentences. The same wording elsewhere (a template letter, a repeated line) is not a
    neighbour.

    A generic sentence («Dette er et viktig tema») is close to many sentences and so to many
    questions, answerable or not (the hubness of embedding spaces); subtracting a share of its
    typicality from its cosine (CSLS, Conneau et al. 2018) tells a question the corpus answers
    from one that merely lands on such a hub. Exact, in blocks of rows whose cosines fit in
    `TYPICALITY_CELLS`: O(n²) products, still small next to embedding the n sentences."""
    count = len(vectors)
    result = np.zeros(count, dtype=np.float32)
    if count < 2:
        return result
    k = min(neighbours, count - 1)
    block = max(1, TYPICALITY_CELLS // count)
    for start in range(0, count, block):
        cosines = vectors[start : start + block] @ vectors.T
        cosines[cosines >= SAME_WORDING] = -1.0  # itself and its identical wordings
        closest = np.partition(cosines, count - k, axis=1)[:, count - k :]
        result[start : start + len(cosines)] = closest.mean(axis=1)
    return result


def write_sentences(folder: Path, layer: SentenceLayer) -> None:
    with (folder / SENTENCES).open("w", encoding="utf-8") as handle:
        for s in layer.sentences:
            record = [s.document_id, s.start, s.end, list(s.chunk_rows)]
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    np.save(folder / SENTENCE_VECTORS, np.ascontiguousarray(layer.vectors, dtype=np.float32))
    np.save(folder / SENTENCE_TYPICALITY, np.ascontiguousarray(layer.typicality, np.float32))


def read_sentences(folder: Path) -> SentenceLayer:
    with (folder / SENTENCES).open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    sentences = tuple(
        Sentence(str(d), int(a), int(b), tuple(map(int, r))) for d, a, b, r in records
    )
    vectors = np.load(folder / SENTENCE_VECTORS, allow_pickle=False)
    if vectors.dtype != np.float32 or vectors.ndim != 2 or len(vectors) != len(sentences):
        raise ValueError(
            f"{SENTENCE_VECTORS} holds {vectors.shape} {vectors.dtype}, "
            f"expected {len(sentences)} float32 rows"
        )
    typical = np.load(folder / SENTENCE_TYPICALITY, allow_pickle=False)
    if typical.dtype != np.float32 or typical.ndim != 2 or len(typical) != len(sentences):
        raise ValueError(
            f"{SENTENCE_TYPICALITY} holds {typical.shape} {typical.dtype}, "
            f"expected {len(sentences)} float32 rows"
        )
    return SentenceLayer.of(sentences, vectors, typical=typical)


@dataclass(frozen=True)
class SentenceLayer:
    """Sentences, their vectors, and the arrays retrieval needs to use them fast."""

    sentences: tuple[Sentence, ...]
    vectors: NDArray[np.float32]
    typicality: NDArray[np.float32]  # per sentence and encoder, see `typicality`
    # Every (chunk row, sentence row) pair where the sentence overlaps the chunk.
    pair_chunk: NDArray[np.int64]
    pair_sentence: NDArray[np.int64]

    @classmethod
    def of(
        cls,
        sentences: tuple[Sentence, ...],
        vectors: NDArray[np.float32],
        blocks: Sequence[slice] = (),
        typical: NDArray[np.float32] | None = None,
    ) -> SentenceLayer:
        """The layer of `sentences` and their vectors; `typical` as stored, else computed in
        each of the encoders' `blocks` (all columns as one encoder when none are given)."""
        pairs = [(row, i) for i, s in enumerate(sentences) for row in s.chunk_rows]
        table = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        if typical is None:
            typical = typicality_per_encoder(vectors, blocks or [slice(None)])
        return cls(sentences, vectors, typical, table[:, 0].copy(), table[:, 1].copy())

    def best_per_chunk(
        self, cosines: NDArray[np.float32], n_chunks: int
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """For every chunk row: its best sentence cosine (-1 if none) and that sentence's row."""
        best = np.full(n_chunks, -1.0, dtype=np.float32)
        which = np.full(n_chunks, -1, dtype=np.int64)
        if len(self.pair_chunk) == 0:
            return best, which
        scores = cosines[self.pair_sentence]
        order = np.lexsort((self.pair_sentence, -scores, self.pair_chunk))
        chunks = self.pair_chunk[order]
        first = order[np.r_[True, chunks[1:] != chunks[:-1]]]
        best[self.pair_chunk[first]] = scores[first]
        which[self.pair_chunk[first]] = self.pair_sentence[first]
        return best, which
