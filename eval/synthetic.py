"""SYNTHETIC corpora grown from the real seed vectors, for benchmarks at 10k-1M sentences.

Nothing here is real text or a real embedding. A corpus is N sentences in documents of about
330 sentences each, grouped into chunks of about five consecutive sentences (as the seeds: 1,280
sentences in 281 chunks of 5 documents), with a vector for every encoder block of the seeds
index (e5-small 384 + EmbeddingGemma 768 columns, each block a unit vector). Its spread is the
seeds', not uniform noise:

- Topics: the seed sentences fall into `TOPICS` k-means clusters. A document is a run of
  sections; each section picks a topic from the document's own mixture (Dirichlet), then an
  anchor seed sentence in that topic. Sentences of a section are close to each other, as
  consecutive seed sentences are (and a sentence's nearest neighbour is more often in its own
  document than by chance).
- A sentence is `mix * s_a + (1 - mix) * s_b + sigma * noise`, each block then made unit: `s_a`
  one of the anchor's `NEIGHBOURS` closest seed sentences, `s_b` one of its own, `mix` uniform
  in [0.5, 1], and the noise Gaussian with the seed sentences' own covariance (a random
  combination of the centred seed vectors, so it is anisotropic like the embeddings and keeps
  the blocks' correlation).
- Template letters: `TEMPLATE_SHARE` of the documents repeat most sentences of another one word
  for word (identical vectors), as submitters who send the same letter do.
- A chunk is the unit mean of its sentences plus noise of the same covariance.

The noise scales come from `eval.synthetic_spread.calibrate`: a synthetic corpus of the seeds'
shape (their document lengths) gets the seeds' median nearest-neighbour cosine (identical
wordings excluded) and their median chunk-to-its-sentences cosine, per block;
`eval.synthetic_spread.spread_profile` gives the percentiles `eval.bench_scale` reports beside
the seeds' (every block's nearest-neighbour, 5th-neighbour, random-pair and next-sentence
cosines, and the questions' best-sentence cosines). Everything is drawn from fixed seeds: the
same arguments give the same corpus, whatever the block size it is generated in.

How close it is (medians, seeds -> synthetic of the seeds' shape -> 1M; e5 block / Gemma block):
nearest neighbour 0.924 / 0.715 -> 0.925 / 0.717 (calibrated) -> 0.949 / 0.797 (a denser
corpus has closer neighbours); 5th nearest 0.908 / 0.653 -> 0.901 / 0.641; random pair 0.848 /
0.425 -> 0.828 / 0.392; next sentence 0.871 / 0.501 -> 0.851 / 0.489; the 229 eval questions'
best sentence 0.875 / 0.526 on the seeds, 0.868 / 0.506 at 10k and 0.884 / 0.553 at 1M. What it
does not reproduce: the seeds' near-duplicate tail (95th percentile of the nearest neighbour
0.971 / 0.893 against 0.94 / 0.78) beyond the template letters, and topics beyond the seeds'.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from numpy.typing import NDArray

from rag.store import StoredIndex, stored_vectors

Vectors = NDArray[np.float32]
Rows = NDArray[np.int64]

SEED = 20261207
TOPICS = 24
NEIGHBOURS = 16
SENTENCES_PER_DOCUMENT = 330
DOCUMENT_LENGTH_SPREAD = 0.6  # sigma of the log-normal document lengths (seeds: 54 to 637)
MIN_DOCUMENT_SENTENCES = 12
SECTION_SENTENCES = 8.0  # mean sentences per section (geometric)
TOPIC_CONCENTRATION = 0.5  # Dirichlet alpha of a document's topic mixture
TEMPLATE_SHARE = 0.03
TEMPLATE_COPIED = 0.9  # share of a template letter's sentences that repeat its source
CHUNK_SIZES = (3, 4, 5, 6)  # sentences per chunk, with these probabilities
CHUNK_SIZE_WEIGHTS = (0.1, 0.25, 0.35, 0.3)
CHUNK_OVERLAP_SHARE = 0.3  # chunks that repeat the previous chunk's last sentence
ROWS_PER_DRAW = 8192  # rows per random stream: generation does not depend on the block size


def unit_blocks(vectors: NDArray[np.float32], blocks: Sequence[slice]) -> Vectors:
    """Each encoder block of each row scaled to unit length (other columns as they are)."""
    out = np.array(vectors, dtype=np.float32)
    for block in blocks:
        norms = np.linalg.norm(out[:, block], axis=1, keepdims=True)
        out[:, block] /= np.maximum(norms, 1e-12)
    return out


@dataclass(frozen=True)
class Seeds:
    """The real vectors a synthetic corpus is grown from."""

    sentences: Vectors  # one row per seed sentence, every block a unit vector
    blocks: tuple[slice, ...]
    document_lengths: tuple[int, ...]  # sentences per seed document, in row order
    chunk_vectors: Vectors  # the seeds' chunk vectors, for calibration
    pair_chunk: Rows  # (chunk, sentence) pairs of the seeds: which sentences a chunk holds
    pair_sentence: Rows


@dataclass(frozen=True)
class Geometry:
    """What generation needs from the seeds, computed once."""

    seeds: Seeds
    topic_members: tuple[Rows, ...]  # seed sentence rows of each topic
    neighbours: Rows  # (seeds, NEIGHBOURS): each seed's closest seed sentences, itself first
    basis: Vectors  # centred seeds / sqrt(n): g @ basis has the seeds' covariance


def geometry(seeds: Seeds, topics: int = TOPICS) -> Geometry:
    vectors = seeds.sentences
    topics = max(1, min(topics, len(vectors) // 8))
    kmeans = faiss.Kmeans(vectors.shape[1], topics, niter=20, seed=SEED, spherical=True)
    kmeans.train(vectors)
    _, assigned = kmeans.index.search(vectors, 1)
    members = tuple(np.flatnonzero(assigned[:, 0] == t).astype(np.int64) for t in range(topics))
    cosines = vectors @ vectors.T
    count = min(NEIGHBOURS, len(vectors))
    closest = np.argsort(-cosines, axis=1, kind="stable")[:, :count]
    basis = (vectors - vectors.mean(axis=0)) / np.float32(math.sqrt(len(vectors)))
    return Geometry(
        seeds,
        tuple(m for m in members if len(m)),
        closest.astype(np.int64),
        basis.astype(np.float32),
    )


@dataclass(frozen=True)
class Layout:
    """The shape of a synthetic corpus, without vectors: documents, sentences, chunks."""

    document_starts: Rows  # first sentence row of each document, then the number of sentences
    anchor: Rows  # per sentence: the seed sentence it is drawn around
    partner: Rows  # and the seed it is mixed with
    mix: NDArray[np.float32]
    copy_of: Rows  # -1, or the earlier row whose wording (and vector) it repeats
    chunk_starts: Rows  # sentence rows [start, end) of each chunk, in document order
    chunk_ends: Rows

    @property
    def sentences(self) -> int:
        return len(self.anchor)

    @property
    def documents(self) -> int:
        return len(self.document_starts) - 1


@dataclass(frozen=True)
class Spread:
    """Noise scales per encoder block, from `calibrate`."""

    sentence: tuple[float, ...]
    chunk: tuple[float, ...]


def document_lengths(n: int, rng: np.random.Generator) -> Rows:
    """About n / 330 documents of log-normal lengths that add up to n sentences."""
    count = max(1, round(n / SENTENCES_PER_DOCUMENT))
    raw = rng.lognormal(0.0, DOCUMENT_LENGTH_SPREAD, count)
    floor = min(MIN_DOCUMENT_SENTENCES, n // count)
    lengths: Rows = floor + np.floor(raw / raw.sum() * (n - floor * count)).astype(np.int64)
    lengths[: n - int(lengths.sum())] += 1  # the rounding remainder, one each
    return lengths


def section_topics(geo: Geometry, lengths: Rows, rng: np.random.Generator) -> tuple[Rows, Rows]:
    """Per sentence: the anchor seed of its section, and the document it belongs to."""
    topics = len(geo.topic_members)
    mixtures = rng.dirichlet(np.full(topics, TOPIC_CONCENTRATION), len(lengths))
    document = np.repeat(np.arange(len(lengths)), lengths)
    new_section = rng.random(len(document)) < 1.0 / SECTION_SENTENCES
    new_section[np.r_[0, np.cumsum(lengths)[:-1]]] = True  # a document starts a section
    section = np.cumsum(new_section) - 1
    owner = document[new_section]
    cumulative = np.cumsum(mixtures[owner], axis=1)
    draws = rng.random(len(owner))[:, None] * cumulative[:, -1:]
    topic = np.minimum((cumulative < draws).sum(axis=1), topics - 1)
    sizes = np.array([len(m) for m in geo.topic_members])
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    flat = np.concatenate(geo.topic_members)
    anchor = flat[offsets[topic] + (rng.random(len(owner)) * sizes[topic]).astype(np.int64)]
    return anchor[section].astype(np.int64), document.astype(np.int64)


def template_copies(lengths: Rows, rng: np.random.Generator) -> Rows:
    """Per sentence -1, or the row of an earlier document's sentence it repeats."""
    starts = np.r_[0, np.cumsum(lengths)]
    copy_of = np.full(int(starts[-1]), -1, dtype=np.int64)
    count = round(TEMPLATE_SHARE * len(lengths))
    if len(lengths) < 2 or count == 0:
        return copy_of
    templates = np.sort(rng.choice(np.arange(1, len(lengths)), count, replace=False))
    is_template = np.zeros(len(lengths), dtype=bool)
    is_template[templates] = True
    for doc in templates.tolist():
        sources = np.flatnonzero(~is_template[:doc])
        source = int(rng.choice(sources))
        shared = int(min(lengths[doc], lengths[source]))
        rows = np.arange(shared)[rng.random(shared) < TEMPLATE_COPIED]
        copy_of[starts[doc] + rows] = starts[source] + rows
    return copy_of


def chunk_windows(lengths: Rows, rng: np.random.Generator) -> tuple[Rows, Rows]:
    """Chunks of 3-6 consecutive sentences of one document, some sharing a sentence."""
    starts, ends = [], []
    offset = 0
    for length in lengths.tolist():
        at = 0
        while at < length:
            size = int(rng.choice(CHUNK_SIZES, p=CHUNK_SIZE_WEIGHTS))
            end = min(length, at + size)
            starts.append(offset + at)
            ends.append(offset + end)
            overlap = end < length and end - at > 1 and rng.random() < CHUNK_OVERLAP_SHARE
            at = end - 1 if overlap else end
        offset += length
    return np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


def plan(geo: Geometry, n: int, seed: int = SEED, lengths: Sequence[int] | None = None) -> Layout:
    """The layout of an N-sentence corpus (documents of the given `lengths`, else drawn)."""
    rng = np.random.default_rng([seed, 0])
    sizes = np.asarray(lengths, dtype=np.int64) if lengths else document_lengths(n, rng)
    anchors, _ = section_topics(geo, sizes, rng)
    k = geo.neighbours.shape[1]
    anchor = geo.neighbours[anchors, rng.integers(0, k, len(anchors))]
    partner = geo.neighbours[anchor, rng.integers(min(1, k - 1), k, len(anchor))]
    mix = rng.uniform(0.5, 1.0, len(anchor)).astype(np.float32)
    copy_of = template_copies(sizes, rng)
    chunk_starts, chunk_ends = chunk_windows(sizes, rng)
    starts = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    return Layout(starts, anchor, partner, mix, copy_of, chunk_starts, chunk_ends)


def covariance_noise(
    geo: Geometry, rows: int, scales: Sequence[float], rng: np.random.Generator
) -> Vectors:
    """Gaussian rows with the seed sentences' covariance, each block scaled by its `scales`."""
    draws = rng.standard_normal((rows, len(geo.basis)), dtype=np.float32)
    noise: Vectors = draws @ geo.basis
    for block, scale in zip(geo.seeds.blocks, scales, strict=True):
        noise[:, block] *= np.float32(scale)
    return noise


def sentence_vectors(
    geo: Geometry, layout: Layout, spread: Spread, out: Vectors, seed: int = SEED
) -> Vectors:
    """Fill `out` (N x dimension; an array or a np.memmap) with the sentences' vectors, one
    random stream per `ROWS_PER_DRAW` rows; template copies repeat their source's vector."""
    seeds = geo.seeds.sentences
    for draw, start in enumerate(range(0, layout.sentences, ROWS_PER_DRAW)):
        rows = slice(start, min(start + ROWS_PER_DRAW, layout.sentences))
        rng = np.random.default_rng([seed, 1, draw])
        mix = layout.mix[rows, None]
        base = mix * seeds[layout.anchor[rows]] + (1 - mix) * seeds[layout.partner[rows]]
        noise = covariance_noise(geo, len(base), spread.sentence, rng)
        block = unit_blocks(base + noise, geo.seeds.blocks)
        copies = np.flatnonzero(layout.copy_of[rows] >= 0)
        out[rows] = block
        if len(copies):  # their sources are in earlier documents, so already written
            out[start + copies] = out[layout.copy_of[start + copies]]
    return out


def window_sums(vectors: Vectors, starts: Rows, ends: Rows) -> Vectors:
    """The sum of rows [start, end) for each window (windows in order, possibly overlapping)."""
    lo, hi = int(starts[0]), int(ends.max())
    padded = np.concatenate([vectors[lo:hi], np.zeros((1, vectors.shape[1]), np.float32)])
    edges = np.empty(2 * len(starts), dtype=np.int64)
    edges[0::2], edges[1::2] = starts - lo, ends - lo
    sums: Vectors = np.add.reduceat(padded, edges, axis=0)[0::2]  # odd pairs are the gaps
    return sums


def chunk_vectors(
    geo: Geometry, layout: Layout, spread: Spread, sentences: Vectors, seed: int = SEED
) -> Vectors:
    """Each chunk: the unit mean of its sentences' blocks plus covariance-shaped noise."""
    out = np.empty((len(layout.chunk_starts), sentences.shape[1]), dtype=np.float32)
    for draw, first in enumerate(range(0, len(out), ROWS_PER_DRAW)):
        chunks = slice(first, min(first + ROWS_PER_DRAW, len(out)))
        starts, ends = layout.chunk_starts[chunks], layout.chunk_ends[chunks]
        means = window_sums(sentences, starts, ends)
        rng = np.random.default_rng([seed, 2, draw])
        noise = covariance_noise(geo, len(means), spread.chunk, rng)
        mean = unit_blocks(means.astype(np.float32), geo.seeds.blocks)
        out[chunks] = unit_blocks(mean + noise, geo.seeds.blocks)
    return out


# --- a whole corpus -------------------------------------------------------------------------


def seeds_of(index: StoredIndex) -> Seeds:
    """The seeds of a loaded index: its sentence and chunk vectors, in its encoders' blocks."""
    widths = [e.dimension for e in index.manifest.encoders]
    edges = np.cumsum([0, *widths]).tolist()
    blocks = tuple(slice(a, b) for a, b in itertools.pairwise(edges))
    order = {doc: i for i, doc in enumerate(index.documents)}
    owners = np.array([order[s.document_id] for s in index.sentences.sentences], dtype=np.int64)
    if (np.diff(owners) < 0).any():
        raise ValueError("the seed sentences are not in document order")
    return Seeds(
        sentences=np.ascontiguousarray(index.sentences.vectors, dtype=np.float32),
        blocks=blocks,
        document_lengths=tuple(np.bincount(owners, minlength=len(order)).tolist()),
        chunk_vectors=stored_vectors(index),
        pair_chunk=index.sentences.pair_chunk,
        pair_sentence=index.sentences.pair_sentence,
    )


@dataclass(frozen=True)
class Corpus:
    """A synthetic corpus: its layout, sentence vectors (memory-mapped when a folder is given)
    and chunk vectors."""

    layout: Layout
    sentences: Vectors
    chunks: Vectors


def generate(
    geo: Geometry, spread: Spread, n: int, folder: Path | None = None, seed: int = SEED
) -> Corpus:
    """An N-sentence corpus; with a `folder`, its sentence vectors are written to
    `sentences-N.npy` there and memory-mapped (1M x 1,152 float32 is 4.6 GB)."""
    layout = plan(geo, n, seed)
    width = geo.seeds.sentences.shape[1]
    out: Vectors
    if folder is None:
        out = np.empty((n, width), dtype=np.float32)
    else:
        path = folder / f"sentences-{n}.npy"
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, width))
    sentences = sentence_vectors(geo, layout, spread, out, seed)
    return Corpus(layout, sentences, chunk_vectors(geo, layout, spread, sentences, seed))
