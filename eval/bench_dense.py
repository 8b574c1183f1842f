"""SYNTHETIC scale benchmark: FAISS flat vs HNSW vs IVF, and BM25, at 10k-100k+ chunks.

Nothing here is real data. Vectors are the real seed chunk embeddings plus isotropic Gaussian
noise (sigma chosen so that the noise moves a vector about as far as the median distance between
a seed chunk and its nearest neighbour, so neighbourhoods overlap and the top 10 is not simply
"the copies of one seed chunk"), renormalised. Queries are real embeddings of the eval questions
plus perturbed copies; fresh draws from the corpus distribution serve as passage-like control
queries (questions sit farther from the passages than passages from each other, and graph
indexes find such out-of-distribution queries harder). Texts for BM25 are 3-8 random seed
sentences each. Everything is drawn from a fixed seed, so runs are comparable.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import faiss
import numpy as np
from numpy.typing import NDArray

from eval.bench_ann import DenseRow, dense_row, sweep_rows, workload
from eval.bench_stats import Latency, summarise_ms
from rag.bm25 import Bm25Index
from rag.dense import FAISS_TYPES
from rag.fusion import top_rows
from rag.sentences import sentences

log = logging.getLogger(__name__)

Vectors = NDArray[np.float32]
SEED = 20240611
QUERY_NOISE_SHARE = 0.5  # perturbed query copies get half the noise the corpus vectors get
BLOCK = 20_000


# --- synthetic data (pure) -----------------------------------------------------------------


def median_nn_distance(vectors: Vectors) -> float:
    """Median Euclidean distance from each (unit) vector to its nearest other vector."""
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = similarity.max(axis=1)
    return float(np.median(np.sqrt(np.maximum(0.0, 2.0 - 2.0 * nearest))))


def choose_sigma(base: Vectors) -> float:
    """Per-coordinate noise whose expected length equals the median nearest-neighbour distance."""
    return median_nn_distance(base) / math.sqrt(base.shape[1])


def normalised(vectors: NDArray[np.float32]) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return result


def synthetic_vectors(base: Vectors, n: int, sigma: float, rng: np.random.Generator) -> Vectors:
    """n unit vectors, each a random base vector plus N(0, sigma^2) noise, renormalised."""
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, BLOCK):
        size = min(BLOCK, n - start)
        picks = base[rng.integers(0, len(base), size)]
        noise = rng.standard_normal((size, base.shape[1]), dtype=np.float32) * np.float32(sigma)
        out[start : start + size] = normalised(picks + noise)
    return out


def perturbed_queries(
    queries: Vectors, copies: int, sigma: float, rng: np.random.Generator
) -> Vectors:
    """The real queries followed by `copies` noisy, renormalised copies of each."""
    noisy = [
        normalised(queries + rng.standard_normal(queries.shape, dtype=np.float32) * sigma)
        for _ in range(copies)
    ]
    return np.concatenate([queries, *noisy]).astype(np.float32)


def split_sentences(texts: Sequence[str], min_words: int = 3) -> list[str]:
    return [s for text in texts for s in sentences(text) if len(s.split()) >= min_words]


def synthetic_texts(
    sentences: Sequence[str], n: int, rng: np.random.Generator, lo: int = 3, hi: int = 8
) -> list[str]:
    """n texts of lo..hi sentences drawn at random (with replacement) from `sentences`."""
    lengths = rng.integers(lo, hi + 1, n)
    picks = rng.integers(0, len(sentences), int(lengths.sum()))
    texts, at = [], 0
    for length in lengths.tolist():
        texts.append(" ".join(sentences[i] for i in picks[at : at + length].tolist()))
        at += length
    return texts


# --- measurements --------------------------------------------------------------------------


@dataclass(frozen=True)
class Bm25Row:
    size: int
    build_s: float
    latency: Latency


def bm25_row(texts: Sequence[str], questions: Sequence[str], depth: int) -> Bm25Row:
    """Build time and per-question latency of BM25 scoring plus the top-`depth` selection."""
    started = time.perf_counter()
    bm25 = Bm25Index.build(texts)
    build_s = time.perf_counter() - started
    all_rows = np.arange(len(texts), dtype=np.int64)
    samples = []
    for question in questions:
        started = time.perf_counter()
        top_rows(bm25.scores(question), all_rows, depth)
        samples.append((time.perf_counter() - started) * 1000)
    return Bm25Row(len(texts), build_s, summarise_ms(samples))


def neighbour_profile(vectors: Vectors, queries: Vectors) -> dict[str, float]:
    """Mean query cosine at neighbour ranks 1, 10, 100: a flat profile would make top-10 moot."""
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    scores, _ = index.search(queries, 100)
    return {f"cos@{rank}": float(scores[:, rank - 1].mean()) for rank in (1, 10, 100)}


# --- the whole synthetic run -----------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    basis: str  # "cpu": thread CPU p50, unaffected by other load; "wall": wall-clock p50
    threshold: int | None  # chunks from which `auto` should switch to HNSW
    budget_ms: float
    intercept_ms: float | None
    ms_per_100k: float | None  # flat p50 growth


@dataclass(frozen=True)
class ScaleBench:
    sizes: tuple[int, ...]
    base_vectors: int
    dimension: int
    sigma: float
    real_queries: int
    queries: int
    profile: dict[str, float]
    dense: tuple[DenseRow, ...]
    sweep: tuple[DenseRow, ...]
    bm25: tuple[Bm25Row, ...]
    recommendations: tuple[Recommendation, ...]  # from CPU p50 (headline), from wall p50


def recommend_threshold(
    sizes: Sequence[int],
    flat_p50_ms: Sequence[float],
    budget_ms: float,
    basis: str = "cpu",
    step: int = 10_000,
) -> Recommendation:
    """Where a straight line through (size, flat p50) crosses `budget_ms`, rounded down to
    `step`; None when flat search does not grow with size in these measurements."""
    if len(sizes) < 2:
        return Recommendation(basis, None, budget_ms, None, None)
    slope, intercept = np.polyfit(np.asarray(sizes, float), np.asarray(flat_p50_ms, float), 1)
    per_100k = float(slope) * 100_000
    if per_100k <= 1e-6:  # flat within float noise
        return Recommendation(basis, None, budget_ms, float(intercept), per_100k)
    crossing = (budget_ms - intercept) / slope
    threshold = max(step, math.floor(crossing / step + 1e-9) * step)  # 1e-9: float noise
    return Recommendation(basis, threshold, budget_ms, float(intercept), per_100k)


def bench_scale(
    base: Vectors,
    sentences: Sequence[str],
    query_vectors: Vectors,
    questions: Sequence[str],
    sizes: Sequence[int],
    budget_ms: float,
    copies: int = 2,
    bm25_depth: int = 50,
) -> ScaleBench:
    """Dense indexes at every size (knob sweeps at the largest) and BM25 at every size."""
    sizes = tuple(sorted(set(sizes)))
    rng = np.random.default_rng(SEED)
    sigma = choose_sigma(base)
    corpus = synthetic_vectors(base, sizes[-1], sigma, rng)
    queries = perturbed_queries(query_vectors, copies, sigma * QUERY_NOISE_SHARE, rng)
    controls = synthetic_vectors(base, len(queries), sigma, rng)
    dense: list[DenseRow] = []
    sweep: list[DenseRow] = []
    for size in sizes:
        vectors = corpus[:size]  # a prefix of a random sample is a random sample
        work = workload(vectors, queries, controls)
        for kind in FAISS_TYPES:
            row, index = dense_row(size, kind, vectors, work)
            dense.append(row)
            if size == sizes[-1] and kind != "flat":
                sweep += sweep_rows(index, kind, size, work)
            del index
    texts = synthetic_texts(sentences, sizes[-1], rng)
    bm25 = tuple(bm25_row(texts[:size], questions, bm25_depth) for size in sizes)
    flat = [r for r in dense if r.kind == "flat"]
    flat_sizes = [r.size for r in flat]
    recommendations = (
        recommend_threshold(flat_sizes, [r.cpu_p50_ms or 0.0 for r in flat], budget_ms, "cpu"),
        recommend_threshold(flat_sizes, [r.latency.p50_ms or 0.0 for r in flat], budget_ms, "wall"),
    )
    return ScaleBench(
        sizes=sizes,
        base_vectors=len(base),
        dimension=base.shape[1],
        sigma=sigma,
        real_queries=len(query_vectors),
        queries=len(queries),
        profile=neighbour_profile(corpus, queries),
        dense=tuple(dense),
        sweep=tuple(sweep),
        bm25=bm25,
        recommendations=recommendations,
    )
