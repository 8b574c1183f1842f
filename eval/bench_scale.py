"""SYNTHETIC scale benchmark of the vector index: which FAISS index serves 10k-1M sentences.

    python -m eval.bench_scale --sizes 10000,100000,1000000 --json FILE

Nothing here is real text. For each size N a corpus is grown from the seeds index's vectors
(`eval.synthetic`: N sentences, their chunks, N/330 documents, every encoder's block), and the
eval questions' real vectors (embedded by the configured encoders, or `--query-vectors`) are the
queries, block-weighted as `Retriever.fused` weights them. For every candidate index (`CANDIDATES`:
flat, IVF with PQ candidates and exact re-scoring, IVF with float16 lists, HNSW) it measures
the build (training included, vectors given), one-thread search latency for k = 50, 200, 1000
candidates across the search-time settings, and the agreement of the exactly re-scored top 10
with brute force, for the weighting the service uses and with one encoder missing. For the
default index it also measures the chunks, the search for every submitter's best sentence
(`scale_measures.reach_by_stop_rule` against per-document ranges), typicality by kNN (time and
agreement on a sample) and the peak memory of a fresh process serving the sentence and chunk
indexes. Timings on a shared machine are noisy: the load average is recorded, and thread CPU
time beside wall time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from eval import scale_measures as measure
from eval import synthetic, synthetic_spread
from eval.bench_stats import Latency, current_rss_bytes, load_average, release_free_memory
from rag.neighbours import typicality_per_encoder, typicality_spec
from rag.vector_index import FaissIndex, IndexSpec, Vectors, build, choose_spec

log = logging.getLogger(__name__)

WEIGHTINGS: dict[str, tuple[float, ...]] = {
    "both": (0.5, 0.5),
    "first only": (1.0, 0.0),
    "second only": (0.0, 1.0),
}
KS = (50, 200, 1000)
DECISION_GAP = 0.05  # documents whose best sentence is within this of the closest (fused)
RANGE_SAMPLE = 30  # documents timed one range search each
TYPICALITY_SAMPLE = 300
GB = 1e9


@dataclass(frozen=True)
class Candidate:
    name: str
    spec: IndexSpec
    settings: tuple[dict[str, int], ...]  # search-time settings swept (first: as built)


def candidates(n: int, dimension: int) -> list[Candidate]:
    """The indexes measured at n rows: flat up to 100k, HNSW up to 100k (its build does not
    fit the budget beyond), IVF with PQ candidates (the default) and IVF with float16 lists."""
    default = choose_spec(n, dimension, "ivf")
    nlist = default.nlist
    probes = sorted({max(1, nlist // 8), max(1, nlist // 4), max(1, nlist // 2), default.nprobe})
    found = [
        Candidate(
            "ivf-pq",
            default,
            tuple({"nprobe": p, "rescore": r} for p in probes for r in (500, 1000, 2000)),
        ),
        Candidate(
            "ivf-fp16",
            default.model_copy(update={"pq": 0, "rescore": 0}),
            tuple({"nprobe": p} for p in probes if p <= max(1, nlist // 4)),  # scans float16
        ),
    ]
    if n <= 100_000:
        hnsw = choose_spec(n, dimension, "hnsw")
        found.append(Candidate("hnsw", hnsw, tuple({"ef_search": e} for e in (128, 256, 512))))
        found.insert(0, Candidate("flat", choose_spec(n, dimension, "flat", "fp32"), ({},)))
    return found


# --- report rows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildRow:
    name: str
    target: str  # sentences or chunks
    factory: str
    build_s: float
    index_gb: float  # the saved index file(s)
    rss_delta_gb: float | None


@dataclass(frozen=True)
class SearchRow:
    name: str
    target: str
    setting: str
    k: int
    latency: Latency
    cpu_p50_ms: float | None
    rescore_p50_ms: float | None
    agreement: dict[str, float]  # weighting -> share of the brute-force top 10


@dataclass(frozen=True)
class TypicalityRow:
    kinds: tuple[str, ...]  # factory per encoder block
    seconds: float
    mean_abs_error: float
    within_1e3: float  # share of sampled rows within 0.001 of the exact value


@dataclass
class SizeReport:  # filled in as the measurements of one size come in
    sentences: int
    chunks: int
    documents: int
    generate_s: float
    brute_force_ms: float  # one query over every sentence, NumPy on the float32 rows
    spread: dict[str, list[float]]
    builds: list[BuildRow] = field(default_factory=list)
    searches: list[SearchRow] = field(default_factory=list)
    reach: dict[str, Any] = field(default_factory=dict)
    typicality: TypicalityRow | None = None
    default_kind: str = ""
    default_setting: str = ""  # the default index's search-time settings, as SearchRow.setting
    serve_rss_gb: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)


# --- one size ---------------------------------------------------------------------------------


def weighted(queries: Vectors, blocks: Sequence[slice], weights: Sequence[float]) -> Vectors:
    scale = np.concatenate(
        [np.full(b.stop - b.start, w) for b, w in zip(blocks, weights, strict=True)]
    )
    out: Vectors = (queries * scale).astype(np.float32)
    return out


def saved_gb(index: FaissIndex, folder: Path, name: str) -> tuple[float, Path]:
    path = folder / f"{name}.faiss"
    index.save(path)
    return path.stat().st_size / GB, path


def timed_build(vectors: Vectors, spec: IndexSpec) -> tuple[FaissIndex, float, float | None]:
    release_free_memory()
    before, started = current_rss_bytes(), time.perf_counter()
    index = build(vectors, spec)
    seconds, after = time.perf_counter() - started, current_rss_bytes()
    delta = (after - before) / GB if before is not None and after is not None else None
    return index, seconds, delta


def setting_label(setting: dict[str, int]) -> str:
    return " ".join(f"{key}={value}" for key, value in setting.items()) or "exact"


def built_settings(spec: IndexSpec) -> dict[str, int]:
    """The search-time settings an index is built with, as `candidates` sweeps them."""
    if spec.kind == "ivf":
        return (
            {"nprobe": spec.nprobe, "rescore": spec.rescore} if spec.pq else {"nprobe": spec.nprobe}
        )
    if spec.kind == "hnsw":
        return {"ef_search": spec.ef_search}
    return {}


def search_rows(
    index: FaissIndex,
    candidate: Candidate,
    target: str,
    queries: dict[str, Vectors],
    exact: dict[str, measure.Exact],
) -> list[SearchRow]:
    """Every setting x k: latency on the main weighting, agreement on every weighting."""
    rows = []
    for setting in candidate.settings:
        tuned = index.tuned(**setting) if setting else index
        for k in KS:
            main = measure.timed_search(tuned, queries["both"], k)
            agreement = {
                "both": measure.agreement(tuned, queries["both"], main.rows, exact["both"])
            }
            for name in queries.keys() - {"both"}:
                found = tuned.search(queries[name], k)[1]
                agreement[name] = measure.agreement(tuned, queries[name], found, exact[name])
            label = setting_label(setting)
            rescore = measure.rescore_ms(tuned, queries["both"], main.rows)
            rows.append(
                SearchRow(
                    candidate.name,
                    target,
                    label,
                    k,
                    main.latency,
                    main.cpu_p50_ms,
                    rescore,
                    agreement,
                )
            )
            log.info("%s %s %s k=%d: %s", target, candidate.name, label, k, rows[-1])
    return rows


def measure_candidates(
    report: SizeReport,
    corpus: synthetic.Corpus,
    queries: dict[str, Vectors],
    exact: dict[str, measure.Exact],
    work: Path,
) -> FaissIndex:
    """Build and search every candidate over the sentences; the default ("ivf-pq" above the
    flat size, else "flat") is returned for the rest of the measurements."""
    n, dimension = corpus.sentences.shape
    default_kind = choose_spec(n, dimension).kind
    kept: FaissIndex | None = None
    for candidate in candidates(n, dimension):
        index, seconds, rss = timed_build(corpus.sentences, candidate.spec)
        size, path = saved_gb(index, work, f"sentences-{candidate.name}")
        report.builds.append(
            BuildRow(candidate.name, "sentences", candidate.spec.factory(), seconds, size, rss)
        )
        log.info("built %s over %d sentences in %.1f s", candidate.name, n, seconds)
        report.searches.extend(search_rows(index, candidate, "sentences", queries, exact))
        if candidate.name == ("ivf-pq" if default_kind == "ivf" else "flat"):
            kept = index
        else:
            path.unlink()
            del index
    if kept is None:
        raise RuntimeError("the default index was not among the candidates")
    return kept


def measure_chunks(
    report: SizeReport, corpus: synthetic.Corpus, queries: dict[str, Vectors], work: Path
) -> Path:
    """The default index over the chunks, searched at its default settings."""
    chunks = corpus.chunks
    exact = {name: measure.exact_top(chunks, q) for name, q in queries.items()}
    spec = choose_spec(len(chunks), chunks.shape[1])
    index, seconds, rss = timed_build(chunks, spec)
    size, path = saved_gb(index, work, "chunks")
    report.builds.append(BuildRow(spec.kind, "chunks", spec.factory(), seconds, size, rss))
    report.searches.extend(
        search_rows(
            index, Candidate(spec.kind, spec, (built_settings(spec),)), "chunks", queries, exact
        )
    )
    return path


def measure_reach(
    report: SizeReport, index: FaissIndex, corpus: synthetic.Corpus, queries: Vectors
) -> None:
    """Every submitter's best sentence: one search widened by the stop rule (at the built
    settings, and probing half the lists), against one exact range search per document."""
    starts = corpus.layout.document_starts
    best = measure.document_best(corpus.sentences, queries, starts)
    wide = {"nprobe": max(1, index.spec.nlist // 2), "rescore": 2 * index.spec.rescore}
    for name, settings in (("built", {}), ("half the lists", wide)):
        searched = index.tuned(**settings) if settings and index.spec.kind == "ivf" else index
        rule = measure.reach_by_stop_rule(searched, queries, starts, best, DECISION_GAP)
        report.reach[f"stop rule, {name}"] = dataclasses.asdict(rule)
    sample = np.linspace(0, len(starts) - 2, min(RANGE_SAMPLE, len(starts) - 1)).astype(int)
    ranges = measure.reach_by_ranges(index, queries[:20], starts, sample.tolist())
    per_document = (ranges.p50_ms or 0.0) / len(sample)
    report.reach.update(gap=DECISION_GAP, range_per_document_ms=per_document)
    report.reach["ranges_for_every_document_ms"] = per_document * (len(starts) - 1)


def measure_typicality(
    report: SizeReport, corpus: synthetic.Corpus, blocks: Sequence[slice]
) -> None:
    started = time.perf_counter()
    found = typicality_per_encoder(corpus.sentences, blocks)
    seconds = time.perf_counter() - started
    n = len(found)
    rng = np.random.default_rng(synthetic.SEED)
    sample = np.sort(rng.choice(n, min(n, TYPICALITY_SAMPLE), replace=False))
    exact = np.stack([measure.exact_typicality(corpus.sentences, b, sample) for b in blocks], 1)
    error = np.abs(found[sample] - exact)
    kinds = tuple(typicality_spec(n, b.stop - b.start).factory() for b in blocks)
    report.typicality = TypicalityRow(
        kinds, seconds, float(error.mean()), float((error <= 1e-3).mean())
    )


def measure_size(
    n: int, geo: synthetic.Geometry, spread: synthetic.Spread, questions: Vectors, work: Path
) -> SizeReport:
    blocks = geo.seeds.blocks
    started = time.perf_counter()
    corpus = synthetic.generate(geo, spread, n, work)
    generated = time.perf_counter() - started
    queries = {
        name: weighted(questions, blocks, w)
        for name, w in WEIGHTINGS.items()
        if len(w) == len(blocks)
    }
    started = time.perf_counter()
    exact = {name: measure.exact_top(corpus.sentences, q) for name, q in queries.items()}
    brute_ms = (time.perf_counter() - started) * 1000 / sum(len(q) for q in queries.values())
    named = [(f"block {i}", b) for i, b in enumerate(blocks)]
    spread_now = synthetic_spread.spread_profile(
        corpus.sentences, named, corpus.layout.document_starts, questions
    )
    report = SizeReport(
        n,
        len(corpus.chunks),
        corpus.layout.documents,
        generated,
        brute_ms,
        spread_now,
        default_kind=choose_spec(n, corpus.sentences.shape[1]).kind,
        default_setting=setting_label(built_settings(choose_spec(n, corpus.sentences.shape[1]))),
    )
    index = measure_candidates(report, corpus, queries, exact, work)
    chunks = measure_chunks(report, corpus, queries, work)
    measure_reach(report, index, corpus, queries["both"])
    sentences_path = work / "sentences-default.faiss"
    index.save(sentences_path)
    del index
    np.save(work / "queries.npy", queries["both"])
    report.serve_rss_gb = (
        measure.serve_peak_bytes([sentences_path, chunks], work / "queries.npy") / GB
    )
    measure_typicality(report, corpus, blocks)
    report.summary.update(summary(report, geo))
    return report


def summary(report: SizeReport, geo: synthetic.Geometry) -> dict[str, Any]:
    """The headline fields (the issue's `rag bench --scale` JSON, for the index part): the
    default index at its default settings, k = 200 candidates, the main weighting."""
    default_name = "ivf-pq" if report.default_kind == "ivf" else "flat"
    default = next(b for b in report.builds if b.target == "sentences" and b.name == default_name)
    searches = [s for s in report.searches if s.target == "sentences" and s.name == default.name]
    chosen = [s for s in searches if s.setting == report.default_setting]
    at_200 = next((s for s in chosen if s.k == 200), None)
    chunk_build = sum(b.build_s for b in report.builds if b.target == "chunks")
    typicality_s = report.typicality.seconds if report.typicality else 0.0
    return {
        "sentences": report.sentences,
        "chunks": report.chunks,
        "documents": report.documents,
        "encoders": len(geo.seeds.blocks),
        "faiss_type": default.factory,
        "build_s": default.build_s + chunk_build + typicality_s,
        "search_p50_ms": at_200.latency.p50_ms if at_200 else None,
        "agreement_with_exact": at_200.agreement.get("both") if at_200 else None,
        "rss_gb": report.serve_rss_gb,
    }


# --- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleReport:
    started_at: str
    load_average_start: tuple[float, float, float] | None
    load_average_end: tuple[float, float, float] | None
    seed_index: str
    queries: int
    spread: synthetic.Spread
    seeds_profile: dict[str, list[float]]
    sizes: list[SizeReport]


def question_vectors(index_path: Path, questions: Path) -> Vectors:
    """The eval questions embedded by the configured encoders, arranged as the index."""
    from eval.questions import load_questions
    from rag.config import Settings
    from rag.encoders import make_encoders
    from rag.store import read_manifest, serving_encoders

    settings = Settings()
    encoders = serving_encoders(
        read_manifest(index_path), index_path, make_encoders(settings.embedding)
    )
    texts = [q.question for q in load_questions(questions)]
    return np.asarray(encoders.embed_queries(texts), dtype=np.float32)


def run(
    sizes: Sequence[int],
    index_path: Path,
    questions: Vectors,
    work: Path,
    written: Callable[[ScaleReport], None] = lambda _: None,
) -> ScaleReport:
    """Every size in turn; `written` gets the report so far after each (a 1M run is long)."""
    from rag.store import load_index

    started = datetime.now(UTC).isoformat(timespec="seconds")
    load_start = load_average()
    seeds = synthetic.seeds_of(load_index(index_path))
    geo = synthetic.geometry(seeds)
    spread = synthetic_spread.calibrate(geo)
    log.info("calibrated spread %s", spread)
    named = [(f"block {i}", b) for i, b in enumerate(seeds.blocks)]
    starts = np.r_[0, np.cumsum(seeds.document_lengths)].astype(np.int64)
    seeds_profile = synthetic_spread.spread_profile(seeds.sentences, named, starts, questions)
    reports: list[SizeReport] = []
    report = ScaleReport(
        started, load_start, None, str(index_path), len(questions), spread, seeds_profile, reports
    )
    for n in sorted(sizes):
        reports.append(measure_size(n, geo, spread, questions, work))
        for leftover in work.iterdir():
            leftover.unlink()
        report = dataclasses.replace(report, load_average_end=load_average())
        written(report)
    return report


def write_report(report: ScaleReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps(dataclasses.asdict(report), ensure_ascii=False, indent=2, default=str)
    path.write_text(body, encoding="utf-8")
    log.info("wrote %s", path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench_scale", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="sentences, comma-separated"
    )
    parser.add_argument("--json", type=Path, required=True, help="where to write the report")
    parser.add_argument("--index", type=Path, default=Path("data/index"), help="the seeds index")
    parser.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"))
    parser.add_argument(
        "--query-vectors", type=Path, help=".npy of question vectors (skips embedding)"
    )
    parser.add_argument(
        "--work", type=Path, help="folder for the vectors and indexes (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.query_vectors:
        questions = np.load(args.query_vectors).astype(np.float32)
    else:
        questions = question_vectors(args.index, args.questions)
    work = args.work or Path(tempfile.mkdtemp(prefix="rag-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        with threadpool_limits(1, user_api="blas"):  # as the service runs NumPy (rag/service.py)
            run(sizes, args.index, questions, work, lambda r: write_report(r, args.json))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
