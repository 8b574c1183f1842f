"""`rag bench`: how fast the seeds index is built and queried, and how retrieval scales.

Three parts, each of which can be skipped:

1. index: `rag index` on the seeds in a subprocess, cold cache / warm cache / unchanged.
2. http: `rag serve` in a subprocess; /search and /ask latency, cold and repeated.
3. scale: the service over SYNTHETIC corpora of 10k sentences up to the size asked for
   (`eval.bench_service`).

All numbers go into one JSON file; `eval.bench_report` turns them into tables.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.bench_http import HttpBench, bench_http
from eval.bench_index import IndexBench, bench_indexing
from eval.bench_service import SizeRun, bench_service_scale, headline, sizes_up_to
from eval.bench_stats import load_average
from eval.questions import DEFAULT_QUESTIONS, load_questions
from rag.config import Settings
from rag.errors import RagError
from rag.store import (
    package_versions,
    read_manifest,
)

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
DEFAULT_REPORTS = Path("eval/reports")
DEFAULT_SOURCES = Path("seeds")
DEFAULT_SCALE_SIZE = 100_000


@dataclass(frozen=True)
class BenchRequest:
    sources: Path = DEFAULT_SOURCES
    questions: Path = DEFAULT_QUESTIONS
    index: Path | None = None  # seeds index for http/scale when indexing is skipped
    skip_index: bool = False
    skip_http: bool = False
    skip_scale: bool = False
    scale_size: int = DEFAULT_SCALE_SIZE
    repeats: int = 3
    concurrencies: tuple[int, ...] = (1, 8)


@dataclass(frozen=True)
class BenchResult:
    started_at: str
    seconds: float
    machine: dict[str, Any]
    seed_index: str
    index: IndexBench | None
    http: HttpBench | None
    scale: list[SizeRun] | None
    scale_headline: list[dict[str, object]] | None  # `eval.bench_service.headline` of each


def machine_info() -> dict[str, Any]:
    import faiss

    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "load_average_start": load_average(),
        "faiss_threads": faiss.omp_get_max_threads(),
        "env": {
            name: os.environ.get(name)
            for name in ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
        },
        "versions": package_versions(),
    }


def existing_index(request: BenchRequest, settings: Settings) -> Path | None:
    path = request.index or settings.index.path
    try:
        read_manifest(path)
    except RagError as exc:
        log.info("cannot use %s (%s)", path, exc)
        return None
    return path


def seed_index_for(request: BenchRequest, settings: Settings, tmp: Path) -> Path:
    """An index of the seeds: the one given or configured, else one built (cache permitting)."""
    found = existing_index(request, settings)
    if found is not None:
        return found
    from indexer.build import build_index

    out = tmp / "seed-index"
    log.info("no index at %s; building one into %s", request.index or settings.index.path, out)
    build_index([request.sources], out, settings)
    return out


def run_bench(request: BenchRequest, settings: Settings, progress: Progress) -> BenchResult:
    started, clock = datetime.now(UTC).isoformat(timespec="seconds"), time.perf_counter()
    machine = machine_info()
    index_bench = http_bench = scale_bench = None
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if not request.skip_index:
            progress("Indexing the seeds: cold cache, warm cache, unchanged ...")
            index_bench = bench_indexing(request.sources.resolve(), tmp / "index", tmp / "cache")
        built = index_bench is not None and all(r.exit_code == 0 for r in index_bench.runs)
        needed = not (request.skip_http and request.skip_scale)
        seed_index = (
            tmp / "index" if built or not needed else seed_index_for(request, settings, tmp)
        )
        if not request.skip_http:
            progress(f"HTTP: /search and /ask at {request.concurrencies} clients ...")
            questions = [q.question for q in load_questions(request.questions)]
            http_bench = bench_http(seed_index, questions, request.concurrencies, request.repeats)
        if not request.skip_scale:
            progress(f"SYNTHETIC scale up to {request.scale_size:,} sentences ...")
            questions = [q.question for q in load_questions(request.questions)]
            sizes = sizes_up_to(request.scale_size)
            work = tmp / "scale"
            work.mkdir()
            scale_bench = bench_service_scale(
                sizes,
                seed_index,
                questions,
                settings,
                work,
                lambda runs: progress(json.dumps(headline(runs[-1]), ensure_ascii=False)),
            )
    machine["load_average_end"] = load_average()
    seconds = time.perf_counter() - clock
    headlines = None if scale_bench is None else [headline(run) for run in scale_bench]
    return BenchResult(
        started, seconds, machine, str(seed_index), index_bench, http_bench, scale_bench, headlines
    )


def default_report_path() -> Path:
    return DEFAULT_REPORTS / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"


def write_bench(result: BenchResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = dataclasses.asdict(result)
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    log.info("wrote %s", path)
    return path
