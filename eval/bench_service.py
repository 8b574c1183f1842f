"""`rag bench`'s scale part: the service over SYNTHETIC corpora of 10k to 1M sentences.

For each size N, `eval.synthetic_index` grows an N-sentence index from the seeds index (its
encoders, vectors spread as the seeds' are, texts that repeat the seeds' sentences) and writes
it as `rag index` does, each vector index of the kind `rag.vector_index.choose_spec` picks for
its rows. Then:

- serving: `rag serve` on it in a subprocess (`eval.bench_http`), one client: /search and /ask
  p50 and p95, timed on a second pass so that the questions' vectors come from the cache
  (embedding a question costs the same at any size; the seeds' HTTP part times it), /matrix
  (every topic of topics.txt in one request, each request in another order) on its first pass
  (none when a request timed out: a repeated one may join the computation it left running),
  the start-up time and each server's peak resident memory;
- agreement: in this process, the eval questions and the matrix topics answered through the
  vector indexes' candidates (as served) and by scoring every row (`Retriever.exhaustive`): the
  share of the exhaustive top 10 passages /search returns, the share of /ask answers with the
  same confidence and the same quotes, and the share of matrix cells alike.

Nothing here is real text or a real corpus: see `eval.synthetic` for what the synthetic corpus
matches of the seeds and what it does not.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.bench_http import HttpBench, bench_http, matrix_p50, peak_mb, repeated_p50
from eval.bench_stats import load_average
from eval.synthetic_index import write_synthetic_index
from rag.config import Settings
from rag.matrix import read_topics
from rag.service import Service, serving_embedder
from rag.store import load_index
from rag.types import Answer

log = logging.getLogger(__name__)

SIZES: tuple[int, ...] = (10_000, 100_000)  # below the largest asked for
EVERY_ROW_QUESTIONS = 30  # questions (and topics) scored both ways at 1M sentences: slow there
EVERY_ROW_ALL_BELOW = 200_000  # below this many sentences every question is compared
MATRIX_REQUESTS = 5  # /matrix requests timed, each of every topic (topics.txt: 12)


@dataclass(frozen=True)
class Agreement:
    """Candidates (as served) against every row, on the same questions."""

    questions: int
    search_top10: float  # mean share of the exhaustive top 10 passages returned
    ask_same: float  # share of /ask answers with the same confidence and quotes
    topics: int
    matrix_cells: float  # share of (topic, submitter) cells with the same confidence
    candidate_ms: float  # mean /ask through the candidates, in this process
    every_row_ms: float  # mean /ask scoring every row


@dataclass(frozen=True)
class SizeRun:
    sentences: int
    chunks: int
    documents: int
    encoders: tuple[str, ...]
    vector_indexes: dict[str, str]  # which index each kind got (FAISS factory string)
    write_s: float  # generating the synthetic corpus and writing its index, typicality included
    http: HttpBench
    agreement: Agreement
    load_average: tuple[float, float, float] | None


def headline(run: SizeRun) -> dict[str, object]:
    """One size's figures under flat names (the JSON report's `scale_headline`)."""
    peak = peak_mb(run.http)
    return {
        "sentences": run.sentences,
        "chunks": run.chunks,
        "documents": run.documents,
        "encoders": list(run.encoders),
        "faiss_type": run.vector_indexes,
        "build_s": run.write_s,
        "search_p50_ms": repeated_p50(run.http, "search"),
        "ask_p50_ms": repeated_p50(run.http, "ask"),
        "matrix_p50_ms": matrix_p50(run.http),
        "agreement_with_exact": run.agreement.search_top10,
        "ask_agreement_with_exact": run.agreement.ask_same,
        "matrix_agreement_with_exact": run.agreement.matrix_cells,
        "rss_gb": None if peak is None else peak / 1024,
    }


def sizes_up_to(largest: int) -> tuple[int, ...]:
    return (*(s for s in SIZES if s < largest), largest)


def answer_key(answer: Answer) -> tuple[object, ...]:
    """What an analyst reads of an answer: its confidence and which text it quotes."""
    quotes = tuple((c.document_id, c.start, c.end) for c in answer.citations)
    return answer.confidence, quotes


def sample(items: Sequence[str], n: int) -> list[str]:
    """n items spread evenly over `items` (all of them if there are no more)."""
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def agreement(service: Service, questions: Sequence[str], topics: Sequence[str]) -> Agreement:
    """`service` (candidates) against the same service scoring every row."""
    every_row = service.retriever.under(service.retriever.policy)
    every_row.exhaustive = True
    exact = dataclasses.replace(service, retriever=every_row)
    found, same, ms_candidates, ms_every = [], [], [], []
    for question in questions:
        top = [h.chunk.chunk_id for h in exact.search(question, 10)]
        served = {h.chunk.chunk_id for h in service.search(question, 10)}
        found.append(sum(c in served for c in top) / len(top) if top else 1.0)
        started = time.perf_counter()
        through = service.ask(question)
        ms_candidates.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        scored = exact.ask(question)
        ms_every.append((time.perf_counter() - started) * 1000)
        same.append(answer_key(through) == answer_key(scored))
    cells = []
    for topic in topics:
        served_cells = {
            s.document.document_id: s.confidence for s in service.submitter_decisions(topic)
        }
        for row in exact.submitter_decisions(topic):
            cells.append(served_cells[row.document.document_id] == row.confidence)
    return Agreement(
        len(questions),
        sum(found) / len(found),
        sum(same) / len(same),
        len(topics),
        sum(cells) / len(cells) if cells else 1.0,
        sum(ms_candidates) / len(ms_candidates),
        sum(ms_every) / len(ms_every),
    )


def rotated(topics: Sequence[str], by: int) -> tuple[str, ...]:
    """Every topic, starting from the `by`-th: the same matrix, another request body."""
    at = by % len(topics) if topics else 0
    return (*topics[at:], *topics[:at])


def served(index_folder: Path, settings: Settings) -> Service:
    at = settings.model_copy(
        update={"index": settings.index.model_copy(update={"path": index_folder})}
    )
    return Service.load(at, serving_embedder(at))


def run_size(
    n: int,
    seeds: Path,
    questions: Sequence[str],
    topics: Sequence[str],
    work: Path,
    settings: Settings,
) -> SizeRun:
    """Write the N-sentence index, serve and time it, compare candidates with every row."""
    log.info("SYNTHETIC %s sentences: writing the index", f"{n:,}")
    started = time.perf_counter()
    folder = work / f"synthetic-{n}"
    write_synthetic_index(folder, load_index(seeds), n)
    write_s = time.perf_counter() - started
    log.info("SYNTHETIC %s sentences: serving", f"{n:,}")
    http = bench_http(
        folder,
        questions,
        concurrencies=(1,),
        repeats=1,
        endpoints=("search", "ask", "matrix"),
        matrix_requests=[rotated(topics, i) for i in range(MATRIX_REQUESTS)],
    )
    log.info("SYNTHETIC %s sentences: candidates against every row", f"{n:,}")
    service = served(folder, settings)
    compared = n if n < EVERY_ROW_ALL_BELOW else EVERY_ROW_QUESTIONS
    measured = agreement(service, sample(questions, compared), sample(topics, compared))
    manifest = service.index.manifest
    return SizeRun(
        n,
        manifest.chunks,
        len(manifest.documents),
        tuple(e.identity for e in manifest.encoders),
        {kind: spec.factory() for kind, spec in manifest.vector_indexes.items()},
        write_s,
        http,
        measured,
        load_average(),
    )


def bench_service_scale(
    sizes: Sequence[int],
    seeds: Path,
    questions: Sequence[str],
    settings: Settings,
    work: Path,
    written: Callable[[list[SizeRun]], None] = lambda _: None,
) -> list[SizeRun]:
    """Every size in turn, smallest first; `written` gets the runs so far after each."""
    topics = read_topics(settings.matrix.topics_file)
    runs: list[SizeRun] = []
    for n in sorted(sizes):
        runs.append(run_size(n, seeds, questions, topics, work, settings))
        written(runs)
        emptied(work)
    return runs


def emptied(folder: Path) -> None:
    """Remove what is in `folder` (an index is a link to its builds folder: the link goes,
    the folder it points into goes as an entry of its own)."""
    for leftover in folder.iterdir():
        if leftover.is_symlink() or not leftover.is_dir():
            leftover.unlink()
        else:
            shutil.rmtree(leftover)
