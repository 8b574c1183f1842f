"""What the SYNTHETIC scale bench measures about a vector index, against brute force.

Brute force runs over the float32 rows (an array or np.memmap, a block of rows at a time).
Latency is one query at a time on one FAISS thread, as a server answering requests side by side
runs it, in wall and in thread CPU time (the CPU time is what other load on the machine does not
inflate). Agreement is the share of the brute-force top 10 found in the top 10 of the
candidates once re-scored exactly on the stored vectors.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from numpy.typing import NDArray

from eval.bench_stats import Latency, neighbour_recall, summarise_ms
from rag.neighbours import SAME_WORDING, TYPICAL_NEIGHBOURS
from rag.vector_index import MISSING, RowRanges, Rows, VectorIndex, Vectors

TOP = 10
BLOCK_ROWS = 65_536
TIME_LIMIT_S = 60.0  # per timed loop: a slow setting is timed on the queries it reached


@dataclass(frozen=True)
class Exact:
    """Brute force: the best TOP (scores, rows) per query, equal scores by row."""

    scores: Vectors
    rows: Rows


def exact_top(matrix: Vectors, queries: Vectors, k: int = TOP) -> Exact:
    """The k best rows of `matrix` per query, by blocks of BLOCK_ROWS rows."""
    best = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(matrix), BLOCK_ROWS):
        block = np.asarray(matrix[start : start + BLOCK_ROWS], dtype=np.float32)
        scores = np.concatenate([best, queries @ block.T], axis=1)
        ids = np.concatenate(
            [
                rows,
                np.broadcast_to(np.arange(start, start + len(block)), (len(queries), len(block))),
            ],
            axis=1,
        )
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # earlier rows first on ties
        best, rows = np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)
    return Exact(best.astype(np.float32), rows.astype(np.int64))


def document_best(matrix: Vectors, queries: Vectors, starts: Rows) -> tuple[Vectors, Rows]:
    """Per query and document (rows starts[d] to starts[d + 1]): its best score and row."""
    scores = np.empty((len(queries), len(starts) - 1), dtype=np.float32)
    rows = np.empty((len(queries), len(starts) - 1), dtype=np.int64)
    first = 0
    while first < len(starts) - 1:
        last = int(np.searchsorted(starts, starts[first] + BLOCK_ROWS, side="right")) - 1
        last = max(last, first + 1)
        lo, hi = int(starts[first]), int(starts[last])
        block = queries @ np.asarray(matrix[lo:hi], dtype=np.float32).T
        for doc in range(first, last):
            part = block[:, starts[doc] - lo : starts[doc + 1] - lo]
            where = part.argmax(axis=1)
            scores[:, doc] = part[np.arange(len(queries)), where]
            rows[:, doc] = starts[doc] + where
        first = last
    return scores, rows


@dataclass(frozen=True)
class Timed:
    latency: Latency  # wall milliseconds per query
    cpu_p50_ms: float | None  # thread CPU milliseconds per query, p50
    rows: Rows  # the rows found, one line per query timed


def timed_search(index: VectorIndex, queries: Vectors, k: int) -> Timed:
    """Each query alone on one FAISS thread, until TIME_LIMIT_S."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    walls, cpus, found = [], [], []
    deadline = time.perf_counter() + TIME_LIMIT_S
    try:
        for query in queries:
            if time.perf_counter() > deadline:
                break
            wall, cpu = time.perf_counter(), time.thread_time()
            _, rows = index.search(query[None, :], k)
            cpus.append((time.thread_time() - cpu) * 1000)
            walls.append((time.perf_counter() - wall) * 1000)
            found.append(rows[0])
    finally:
        faiss.omp_set_num_threads(threads)
    return Timed(summarise_ms(walls), summarise_ms(cpus).p50_ms, np.array(found, np.int64))


def rescored(index: VectorIndex, query: Vectors, rows: Rows, k: int = TOP) -> Rows:
    """The k best of the candidate `rows` by their exact score on the stored vectors."""
    rows = rows[rows != MISSING]
    scores = index.vectors(rows) @ query
    order = np.lexsort((rows, -scores))[:k]
    return rows[order]


def rescore_ms(index: VectorIndex, queries: Vectors, found: Rows) -> float | None:
    """p50 milliseconds to read the candidates' stored vectors and score them exactly."""
    samples = []
    for query, rows in zip(queries, found, strict=False):
        started = time.perf_counter()
        rescored(index, query, rows)
        samples.append((time.perf_counter() - started) * 1000)
    return summarise_ms(samples).p50_ms


def agreement(index: VectorIndex, queries: Vectors, found: Rows, exact: Exact) -> float:
    """Share of the brute-force top 10 in the re-scored top 10 of the candidates."""
    tops = [rescored(index, q, rows) for q, rows in zip(queries, found, strict=False)]
    padded = np.full((len(tops), TOP), MISSING, dtype=np.int64)
    for i, top in enumerate(tops):
        padded[i, : len(top)] = top
    return neighbour_recall(padded, exact.rows[: len(tops)], TOP)


# --- every submitter's best sentence ----------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """Documents a decision needs (best sentence within `gap` of the closest) and found."""

    latency: Latency
    needed: float  # documents per query whose exact best is within the gap, mean
    reached: float  # share of them with a sentence among the candidates
    found: float  # share of them whose exact best sentence was found as their best
    k_p50: float | None  # candidates kept, p50


def doc_of(starts: Rows, rows: Rows) -> Rows:
    return np.searchsorted(starts, rows, side="right") - 1


def stop_rule(
    index: VectorIndex, query: Vectors, gap: float, k: int, widen: int
) -> tuple[Vectors, Rows]:
    """Candidates until the k-th falls below the closest less `gap`: k widened until then."""
    while True:
        scores, rows = index.search(query[None, :], k)
        floor = scores[0, 0] - gap if scores.shape[1] else np.inf
        if scores.shape[1] < k or scores[0, -1] < floor or k >= index.size:
            keep = scores[0] >= floor
            return scores[0, keep], rows[0, keep]
        k *= widen


def best_of_each(scores: Vectors, rows: Rows, starts: Rows) -> dict[int, int]:
    """Document -> its best row among the candidates (they come best first)."""
    best: dict[int, int] = {}
    for doc, row in zip(doc_of(starts, rows).tolist(), rows.tolist(), strict=True):
        best.setdefault(doc, row)
    return best


def needed_documents(best: Vectors, gap: float) -> list[NDArray[np.int64]]:
    return [np.flatnonzero(line >= line.max() - gap) for line in best]


def reach_by_stop_rule(
    index: VectorIndex,
    queries: Vectors,
    starts: Rows,
    exact: tuple[Vectors, Rows],
    gap: float,
    first_k: int = 1000,
    widen: int = 4,
) -> Reach:
    """One search per question, widened by the stop rule; a document's best sentence is its
    best candidate."""
    walls, ks, shares, reached = [], [], [], []
    needed = needed_documents(exact[0], gap)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        for i, query in enumerate(queries):
            started = time.perf_counter()
            scores, rows = stop_rule(index, query, gap, first_k, widen)
            walls.append((time.perf_counter() - started) * 1000)
            ks.append(float(len(rows)))
            found = best_of_each(scores, rows, starts)
            hits = [found.get(int(d)) == exact[1][i, d] for d in needed[i]]
            shares.append(float(np.mean(hits)) if hits else 1.0)
            reached.append(float(np.mean([int(d) in found for d in needed[i]])) if hits else 1.0)
    finally:
        faiss.omp_set_num_threads(threads)
    mean_needed = float(np.mean([len(n) for n in needed]))
    return Reach(
        summarise_ms(walls),
        mean_needed,
        float(np.mean(reached)),
        float(np.mean(shares)),
        summarise_ms(ks).p50_ms,
    )


def reach_by_ranges(
    index: VectorIndex, queries: Vectors, starts: Rows, documents: Sequence[int]
) -> Latency:
    """Milliseconds for one exact range search (k = 3) per document of `documents`."""
    samples = []
    for query in queries:
        started = time.perf_counter()
        for doc in documents:
            index.search(query[None, :], 3, RowRanges.of((int(starts[doc]), int(starts[doc + 1]))))
        samples.append((time.perf_counter() - started) * 1000)
    return summarise_ms(samples)


# --- typicality and memory ---------------------------------------------------------------------


def exact_typicality(matrix: Vectors, block: slice, rows: Rows) -> NDArray[np.float32]:
    """The all-pairs typicality of `rows` (rag.sentence_layer's definition), one block."""
    top = np.full((len(rows), TYPICAL_NEIGHBOURS), -1.0, dtype=np.float32)
    queries = np.asarray(matrix[rows][:, block], dtype=np.float32)
    for start in range(0, len(matrix), BLOCK_ROWS):
        part = np.asarray(matrix[start : start + BLOCK_ROWS, block], dtype=np.float32)
        scores = queries @ part.T
        scores[scores >= SAME_WORDING] = -1.0
        top = -np.sort(-np.concatenate([top, scores], axis=1), axis=1)[:, :TYPICAL_NEIGHBOURS]
    typical: NDArray[np.float32] = top.mean(axis=1)
    return typical


SERVE_SCRIPT = """
import sys, numpy as np, faiss
from rag.vector_index import load
faiss.omp_set_num_threads(1)
queries = np.load(sys.argv[1])
indexes = [load(__import__("pathlib").Path(p)) for p in sys.argv[2:]]
for index in indexes:
    for q in queries:
        index.search(q[None, :index.dimension], 1000)
status = open("/proc/self/status").read().split("\\n")
print(next(int(l.split()[1]) for l in status if l.startswith("VmHWM")) * 1024)
"""


def serve_peak_bytes(paths: Sequence[Path], queries: Path) -> int:
    """Peak resident memory of a fresh process that loads the indexes (memory-mapped) and
    searches every query in each: what serving them costs, Python and numpy included."""
    done = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT, str(queries), *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip().splitlines()[-1])
