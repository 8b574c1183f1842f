"""A complete SYNTHETIC index folder, loadable by the service (`rag.store.load_index`).

`write_synthetic_index` grows an N-sentence corpus from a seeds index (`eval.synthetic`) and
writes it with today's `rag.store.write_index`: documents with text, chunks with offsets, the
sentence layer with vectors and typicality (`rag.neighbours`, by kNN), the seeds' vocabulary
and a manifest that names the seeds' encoders and chunk settings, so the service's checks pass.

Texts are not real either: each sentence repeats the text of the seed sentence it was drawn
around, marked with its row (`(s123)`: a token with digits, which is not a vocabulary word), so
that every wording is distinct except the template letters' sentences, which repeat their
source's text as their vectors repeat its vector. Documents are "Syntetisk 0001 kommune" and so
on, in five submitter types. The chunk vectors go into `vectors.faiss` as the index
`rag.vector_index.choose_spec` picks for their number (flat below 20,000 chunks).
"""

from __future__ import annotations

import hashlib
import itertools
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eval import synthetic, synthetic_spread
from indexer.build import document_entry
from rag.manifest import Manifest
from rag.sentence_layer import SentenceLayer
from rag.store import StoredIndex, write_index
from rag.types import Chunk, Document, Sentence
from rag.vector_index import IndexSpec, build, choose_spec

SUBMITTER_TYPES = ("kommune", "fylkeskommune", "helsefellesskap", "organisasjon", "annen")
PARAGRAPH_SENTENCES = 8


def seed_texts(index: StoredIndex) -> list[str]:
    """The text of every seed sentence, in row order."""
    return [
        " ".join(index.documents[s.document_id].text[s.start : s.end].split())
        for s in index.sentences.sentences
    ]


def sentence_texts(layout: synthetic.Layout, seeds: Sequence[str]) -> list[str]:
    """Each sentence's text: its anchor seed's, marked with its row; copies repeat theirs."""
    texts = [f"{seeds[a]} (s{row})" for row, a in enumerate(layout.anchor.tolist())]
    for row in np.flatnonzero(layout.copy_of >= 0).tolist():
        texts[row] = texts[int(layout.copy_of[row])]
    return texts


def document_text(title: str, sentences: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """A title line, then the sentences in paragraphs; with each sentence's (start, end)."""
    parts, spans, at = [title, "\n\n"], [], len(title) + 2
    for i, sentence in enumerate(sentences):
        if i:
            gap = "\n\n" if i % PARAGRAPH_SENTENCES == 0 else " "
            parts.append(gap)
            at += len(gap)
        spans.append((at, at + len(sentence)))
        parts.append(sentence)
        at += len(sentence)
    return "".join(parts), spans


def chunk_rows_of(layout: synthetic.Layout) -> list[list[int]]:
    """Per sentence row, the chunks that hold it."""
    holders: list[list[int]] = [[] for _ in range(layout.sentences)]
    for chunk, (start, end) in enumerate(
        zip(layout.chunk_starts.tolist(), layout.chunk_ends.tolist(), strict=True)
    ):
        for row in range(start, end):
            holders[row].append(chunk)
    return holders


def synthetic_records(
    layout: synthetic.Layout, texts: Sequence[str]
) -> tuple[list[Document], list[Chunk], list[Sentence]]:
    """Documents, chunks and sentences of a layout, every offset into the document text."""
    documents, sentences = [], []
    holders = chunk_rows_of(layout)
    spans: list[tuple[str, int, int]] = []
    starts = layout.document_starts.tolist()
    for doc, (first, last) in enumerate(itertools.pairwise(starts)):
        submitter = f"Syntetisk {doc + 1:04d} {SUBMITTER_TYPES[doc % len(SUBMITTER_TYPES)]}"
        title = f"Høringsinnspill fra {submitter}"
        text, offsets = document_text(title, texts[first:last])
        document_id = f"syn_{doc:05d}"
        documents.append(
            Document(
                document_id=document_id,
                source=f"{document_id}.txt",
                submitter=submitter,
                submitter_type=SUBMITTER_TYPES[doc % len(SUBMITTER_TYPES)],
                title=title,
                text=text,
                content_hash=hashlib.sha256(text.encode()).hexdigest(),
            )
        )
        for row, (start, end) in zip(range(first, last), offsets, strict=True):
            sentences.append(Sentence(document_id, start, end, tuple(holders[row])))
            spans.append((document_id, start, end))
    by_id = {d.document_id: d for d in documents}
    chunks = []
    for number, (a, b) in enumerate(
        zip(layout.chunk_starts.tolist(), layout.chunk_ends.tolist(), strict=True)
    ):
        document_id, start, _ = spans[a]
        end = spans[b - 1][2]
        text = by_id[document_id].text[start:end]
        chunks.append(Chunk(f"{document_id}#{number}", document_id, start, end, text))
    return documents, chunks, sentences


def write_synthetic_index(
    path: Path, seeds_index: StoredIndex, n: int, seed: int = synthetic.SEED
) -> Path:
    """Write an N-sentence synthetic index at `path` (atomically, as `rag index` does) and
    return its build folder. Its manifest names the seeds' encoders and chunk settings. The
    sentence vectors are generated into a memory-mapped file beside `path` while it is written
    (1M sentences x 1,152 float32 are 4.6 GB), not held in memory."""
    seeds = synthetic.seeds_of(seeds_index)
    geo = synthetic.geometry(seeds)
    spread = synthetic_spread.calibrate(geo, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".synthetic-") as work:
        corpus = synthetic.generate(geo, spread, n, Path(work), seed)
        texts = sentence_texts(corpus.layout, seed_texts(seeds_index))
        documents, chunks, sentences = synthetic_records(corpus.layout, texts)
        layer = SentenceLayer.built(tuple(sentences), corpus.sentences, seeds.blocks)
        chunk_index = build(corpus.chunks, choose_spec(len(chunks), corpus.chunks.shape[1]))
        vocabulary = seeds_index.vocabulary
        specs = {
            "chunks": chunk_index.record(),
            "sentences": layer.index.record(),
            "vocabulary": vocabulary.index.record(),
        }
        manifest = synthetic_manifest(seeds_index.manifest, documents, len(chunks), n, specs)
        return write_index(path, documents, chunks, chunk_index, layer, vocabulary, manifest)


def synthetic_manifest(
    seeds: Manifest,
    documents: Sequence[Document],
    chunks: int,
    n: int,
    specs: dict[str, IndexSpec],
) -> Manifest:
    """The manifest of a synthetic index: the seeds' encoders and chunk settings, its counts."""
    return Manifest(
        embedding_model=seeds.embedding_model,
        embedding_engine=seeds.embedding_engine,
        embedding_precision=seeds.embedding_precision,
        embedding_identity=seeds.embedding_identity,
        dimension=seeds.dimension,
        encoders=seeds.encoders,
        vector_indexes=specs,
        chunk_settings=seeds.chunk_settings,
        source_paths=(f"synthetic:{n}",),
        documents=tuple(document_entry(d) for d in documents),
        chunks=chunks,
        sentences=n,
        vocabulary=seeds.vocabulary,
    )
