"""How a SYNTHETIC corpus spreads, and the noise scales that give it the seeds' spread.

`calibrate` grows a corpus of the seeds' own shape (their document lengths) and finds, per
encoder block, the sentence noise that gives it the seeds' median nearest-neighbour cosine
(identical wordings left out) and the chunk noise that gives it the seeds' median cosine of a
chunk to the mean of its sentences. `spread_profile` gives the percentiles `eval.bench_scale`
reports for the seeds and for every synthetic size: each block's nearest-neighbour,
5th-neighbour, random-pair and next-sentence cosines, and the questions' best-sentence cosines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from eval.synthetic import (
    SEED,
    Geometry,
    Layout,
    Rows,
    Spread,
    Vectors,
    chunk_vectors,
    plan,
    sentence_vectors,
)

BISECTION_STEPS = 14
PASS_ROWS = 65_536  # rows compared at a time
NOISE_CEILING = 3.0  # noise scales are searched in [0, this]
SAME_WORDING = 0.999  # as rag.sentence_layer: cosine from which two sentences are one wording


def closest_others(vectors: Vectors, sample: Rows, count: int = 5) -> NDArray[np.float32]:
    """Per sampled row: the cosines of its `count` closest other rows, best first, identical
    wordings (cos >= SAME_WORDING, itself among them) left out. One pass over the rows, a
    block at a time (a memory-mapped matrix is read once, in order)."""
    queries = np.ascontiguousarray(vectors[sample], dtype=np.float32)
    best = np.full((len(sample), count), -np.inf, dtype=np.float32)
    for start in range(0, len(vectors), PASS_ROWS):
        block = np.ascontiguousarray(vectors[start : start + PASS_ROWS], dtype=np.float32)
        cosines = queries @ block.T
        cosines[cosines >= SAME_WORDING] = -np.inf
        merged = np.concatenate([best, cosines], axis=1)
        best = -np.partition(-merged, count - 1, axis=1)[:, :count]
    ordered: NDArray[np.float32] = -np.sort(-best, axis=1)
    return ordered


def nearest_other(vectors: Vectors, sample: Rows, rank: int = 1) -> NDArray[np.float32]:
    """Per sampled row: the cosine of its `rank`-th closest other row (see `closest_others`)."""
    return closest_others(vectors, sample, rank)[:, rank - 1]


def block_cosines(a: Vectors, b: Vectors, blocks: Sequence[slice]) -> NDArray[np.float32]:
    """Row by row: the cosine of a's and b's `blocks`, averaged over the blocks (a's blocks are
    unit; b's are made unit first)."""
    total = np.zeros(len(a), dtype=np.float32)
    for block in blocks:
        part = b[:, block]
        unit = part / np.maximum(np.linalg.norm(part, axis=1, keepdims=True), 1e-12)
        total += (a[:, block] * unit).sum(axis=1)
    cosines: NDArray[np.float32] = total / np.float32(len(blocks))
    return cosines


def chunk_fit(
    chunks: Vectors, sentences: Vectors, pairs: tuple[Rows, Rows], blocks: Sequence[slice]
) -> NDArray[np.float32]:
    """Per chunk: its cosine to the mean of its sentences (both blocks, averaged)."""
    pair_chunk, pair_sentence = pairs
    sums = np.zeros_like(chunks)
    np.add.at(sums, pair_chunk, sentences[pair_sentence])
    return block_cosines(chunks, sums, blocks)


def layout_pairs(layout: Layout) -> tuple[Rows, Rows]:
    """(chunk, sentence) pairs of a layout, as the sentence layer stores them."""
    counts = layout.chunk_ends - layout.chunk_starts
    chunk = np.repeat(np.arange(len(counts)), counts)
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return chunk.astype(np.int64), (np.repeat(layout.chunk_starts, counts) + within)


def bisect(measure: Callable[[float], float], target: float, lo: float, hi: float) -> float:
    """The value in [lo, hi] where the decreasing `measure` meets `target`."""
    for _ in range(BISECTION_STEPS):
        middle = (lo + hi) / 2
        lo, hi = (middle, hi) if measure(middle) > target else (lo, middle)
    return (lo + hi) / 2


def nearest_median(vectors: Vectors) -> float:
    """Median over rows of the closest other row's cosine."""
    return float(np.median(nearest_other(vectors, np.arange(len(vectors)))))


def calibrate(geo: Geometry, seed: int = SEED) -> Spread:
    """Per encoder block, the noise scales that give a corpus of the seeds' shape the seeds'
    spread: their median nearest-neighbour cosine, and their median chunk-to-its-sentences
    cosine (each block is made unit on its own, so each block's scale is found on its own)."""
    seeds = geo.seeds
    layout = plan(geo, len(seeds.sentences), seed, lengths=seeds.document_lengths)
    pairs = layout_pairs(layout)
    seed_pairs = (seeds.pair_chunk, seeds.pair_sentence)
    out = np.empty_like(seeds.sentences)
    width = len(seeds.blocks)
    sentence: list[float] = []
    chunk: list[float] = []
    for block in seeds.blocks:

        def nearest(sigma: float, block: slice = block) -> float:
            sentence_vectors(geo, layout, Spread((sigma,) * width, (0.0,) * width), out, seed)
            return nearest_median(out[:, block])

        sentence.append(
            bisect(nearest, nearest_median(seeds.sentences[:, block]), 0.0, NOISE_CEILING)
        )
    spread = Spread(tuple(sentence), (0.0,) * width)
    sentences = sentence_vectors(geo, layout, spread, out, seed).copy()
    for block in seeds.blocks:

        def fit(tau: float, block: slice = block) -> float:
            noisy = Spread(spread.sentence, (tau,) * width)
            chunks = chunk_vectors(geo, layout, noisy, sentences, seed)
            return float(np.median(chunk_fit(chunks, sentences, pairs, [block])))

        target = float(
            np.median(chunk_fit(seeds.chunk_vectors, seeds.sentences, seed_pairs, [block]))
        )
        chunk.append(bisect(fit, target, 0.0, NOISE_CEILING))
    return Spread(tuple(sentence), tuple(chunk))


PERCENTILES = (5, 25, 50, 75, 95)
PROFILE_SAMPLE = 500


def percentiles(values: NDArray[np.float32]) -> list[float]:
    return [round(float(v), 4) for v in np.percentile(values, PERCENTILES)]


def spread_profile(
    vectors: Vectors,
    blocks: Sequence[tuple[str, slice]],
    document_starts: Rows,
    queries: Vectors | None = None,
    seed: int = SEED,
) -> dict[str, list[float]]:
    """Percentiles (5, 25, 50, 75, 95) of each named block's cosines on a sample of rows:
    nearest and 5th-nearest other row (identical wordings left out), a random other row, the
    next sentence of the same document, and each query's closest row."""
    rng = np.random.default_rng([seed, 3])
    n = len(vectors)
    sample = np.sort(rng.choice(n, min(n, PROFILE_SAMPLE), replace=False)).astype(np.int64)
    others = rng.integers(0, n, len(sample))
    last = np.searchsorted(document_starts, sample, side="right")
    following = sample[sample + 1 < document_starts[np.minimum(last, len(document_starts) - 1)]]
    profile: dict[str, list[float]] = {}
    for name, block in blocks:
        part = vectors[:, block]
        rows = np.asarray(part[sample])
        closest = closest_others(part, sample, 5)
        profile[f"{name} nearest"] = percentiles(closest[:, 0])
        profile[f"{name} 5th nearest"] = percentiles(closest[:, 4])
        profile[f"{name} random pair"] = percentiles((rows * part[others]).sum(axis=1))
        pairs = (np.asarray(part[following]) * part[following + 1]).sum(axis=1)
        profile[f"{name} next sentence"] = percentiles(pairs)
        if queries is not None:
            best = np.max(queries[:, block] @ np.asarray(part).T, axis=1)
            profile[f"{name} question best"] = percentiles(best)
    return profile
