"""Measure one FAISS index against exact search: recall, similarity shortfall, latency, size.

Used by the SYNTHETIC chunk benchmark of `rag bench` (eval.bench_dense). Latency is single
queries on one FAISS thread, as in a server that answers requests side by side; question
queries are timed, the passage-like control queries are only scored.
"""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass

import faiss
import numpy as np
from numpy.typing import NDArray

from eval.bench_stats import (
    Latency,
    current_rss_bytes,
    neighbour_recall,
    release_free_memory,
    score_shortfall,
    summarise_ms,
)
from rag.dense import FaissType, build_faiss

log = logging.getLogger(__name__)

Vectors = NDArray[np.float32]
K = 10
LOOP_TIME_LIMIT_S = 60.0
HNSW_EF_SWEEP: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
IVF_NPROBE_SWEEP: tuple[int, ...] = (1, 4, 16, 32, 64, 128)


@dataclass(frozen=True)
class Neighbours:
    scores: NDArray[np.float32]
    rows: NDArray[np.int64]


@dataclass(frozen=True)
class Workload:
    """The queries for one corpus size, with their exact top-k."""

    queries: Vectors  # the eval questions and perturbed copies
    exact: Neighbours
    controls: Vectors  # passage-like queries: fresh draws from the corpus distribution
    control_exact: Neighbours


@dataclass(frozen=True)
class Quality:
    recall_at_10: float  # question queries vs exact search
    cos_shortfall: float  # exact top-10 mean cosine minus the index's (0 = as good as exact)
    control_recall_at_10: float  # passage-like queries vs exact search


@dataclass(frozen=True)
class DenseRow:
    size: int
    kind: str
    setting: str  # the search-time knob the row used, e.g. "efSearch=128"
    build_s: float | None
    serialized_bytes: int | None
    rss_delta_bytes: int | None
    quality: Quality
    latency: Latency  # wall milliseconds per single query, one FAISS thread
    cpu_p50_ms: float | None  # thread CPU time per query (insensitive to other load)


@dataclass(frozen=True)
class Built:
    index: faiss.Index
    seconds: float
    rss_delta_bytes: int | None


def build_timed(vectors: Vectors, kind: FaissType) -> Built:
    gc.collect()
    release_free_memory()
    before, started = current_rss_bytes(), time.perf_counter()
    index = build_faiss(vectors, kind)
    seconds, after = time.perf_counter() - started, current_rss_bytes()
    delta = after - before if before is not None and after is not None else None
    return Built(index, seconds, delta)


def timed_search(
    index: faiss.Index, queries: Vectors, k: int = K
) -> tuple[Latency, float | None, Neighbours]:
    """One query at a time on one FAISS thread (as in a server that runs requests side by side)."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    walls, cpus, scores, rows = [], [], [], []
    deadline = time.perf_counter() + LOOP_TIME_LIMIT_S
    try:
        for query in queries:
            if time.perf_counter() > deadline:
                break
            wall, cpu = time.perf_counter(), time.thread_time()
            found_scores, found_rows = index.search(query[None, :], k)
            cpus.append((time.thread_time() - cpu) * 1000)
            walls.append((time.perf_counter() - wall) * 1000)
            scores.append(found_scores[0])
            rows.append(found_rows[0])
    finally:
        faiss.omp_set_num_threads(threads)
    found = Neighbours(np.array(scores, np.float32), np.array(rows, np.int64))
    return summarise_ms(walls), summarise_ms(cpus).p50_ms, found


def exact_neighbours(vectors: Vectors, queries: Vectors, k: int = K) -> Neighbours:
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    scores, rows = index.search(queries, k)
    return Neighbours(np.asarray(scores, np.float32), np.asarray(rows, np.int64))


def workload(vectors: Vectors, queries: Vectors, controls: Vectors) -> Workload:
    exact, control_exact = exact_neighbours(vectors, queries), exact_neighbours(vectors, controls)
    return Workload(queries, exact, controls, control_exact)


def knob(index: faiss.Index) -> str:
    """The search-time setting an index is using, e.g. `efSearch=128`."""
    if isinstance(index, faiss.IndexHNSW):
        return f"efSearch={index.hnsw.efSearch}"
    if isinstance(index, faiss.IndexIVF):
        return f"nprobe={index.nprobe}/nlist={index.nlist}"
    return "exact"


def set_knob(index: faiss.Index, value: int) -> None:
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = value
    elif isinstance(index, faiss.IndexIVF):
        index.nprobe = min(value, index.nlist)


def measure(index: faiss.Index, work: Workload) -> tuple[Quality, Latency, float | None]:
    """Timed single queries for the questions; a batched, untimed pass for the controls."""
    latency, cpu_p50, found = timed_search(index, work.queries)
    n = len(found.rows)
    _, control_rows = index.search(work.controls, K)
    quality = Quality(
        neighbour_recall(found.rows, work.exact.rows[:n], K),
        score_shortfall(work.exact.scores[:n], found.scores, found.rows),
        neighbour_recall(np.asarray(control_rows, np.int64), work.control_exact.rows, K),
    )
    return quality, latency, cpu_p50


def dense_row(
    size: int, kind: FaissType, vectors: Vectors, work: Workload
) -> tuple[DenseRow, faiss.Index]:
    """Build one index over `vectors` and measure it with its default search settings."""
    built = build_timed(vectors, kind)
    quality, latency, cpu_p50 = measure(built.index, work)
    row = DenseRow(
        size=size,
        kind=kind,
        setting=knob(built.index),
        build_s=built.seconds,
        serialized_bytes=len(faiss.serialize_index(built.index)),
        rss_delta_bytes=built.rss_delta_bytes,
        quality=quality,
        latency=latency,
        cpu_p50_ms=cpu_p50,
    )
    log.info("%s at %d: %s", kind, size, row)
    return row, built.index


def sweep_rows(index: faiss.Index, kind: str, size: int, work: Workload) -> list[DenseRow]:
    """Recall and latency of one built index across its search-time knob."""
    rows = []
    for value in HNSW_EF_SWEEP if kind == "hnsw" else IVF_NPROBE_SWEEP:
        set_knob(index, value)
        quality, latency, cpu_p50 = measure(index, work)
        rows.append(DenseRow(size, kind, knob(index), None, None, None, quality, latency, cpu_p50))
    return rows
