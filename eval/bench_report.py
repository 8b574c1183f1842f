"""The benchmark as plain-text tables, for people."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from eval.bench_ann import DenseRow
from eval.bench_dense import ScaleBench
from eval.bench_http import HttpBench, LoadResult
from eval.bench_index import IndexBench

if TYPE_CHECKING:
    from eval.bench import BenchResult

MB = 1024 * 1024

COST_HEADER: tuple[str, ...] = (
    "index",
    "setting",
    "build s",
    "size MB",
    "RSS +MB",
    "p50 ms",
    "p95 ms",
    "CPU p50 ms",
)
QUALITY_HEADER: tuple[str, ...] = (
    "index",
    "setting",
    "recall@10 questions",
    "cos shortfall",
    "recall@10 passage-like",
    "p50 ms",
    "CPU p50 ms",
)
HTTP_HEADER: tuple[str, ...] = (
    "pass",
    "clients",
    "n",
    "p50 ms",
    "p95 ms",
    "mean ms",
    "req/s",
    "err/skip",
    "ask embed/retr/ans ms",
)


def fmt(value: float | int | None, digits: int = 1) -> str:
    """A number for a table cell: thousands separated, `digits` decimals for floats."""
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def megabytes(value: int | None) -> str:
    return fmt(value / MB) if value is not None else "–"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(c) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def index_section(bench: IndexBench) -> str:
    header = ["run", "wall s", "build s", "CPU s", "chunks", "embedded", "chunks/s", "peak MB"]
    rows = [
        [
            r.name,
            fmt(r.wall_s),
            fmt(r.build_s),
            fmt(r.cpu_s),
            fmt(r.chunks),
            fmt(r.embedded),
            fmt(r.chunks_per_s),
            megabytes(r.peak_rss_bytes),
        ]
        for r in bench.runs
    ]
    share = fmt(bench.embedding_share * 100 if bench.embedding_share is not None else None, 0)
    note = (
        f"Embedding (cold build - warm build): {fmt(bench.embedding_s)} s = {share} % of the "
        f"cold build. Peak memory from {bench.peak_rss_source}."
    )
    table = format_table(header, rows)
    return f"Indexing the seeds (subprocess `rag index`)\n\n{table}\n{note}"


def http_row(r: LoadResult) -> list[str]:
    server = r.server_ms
    split = "/".join(fmt(server.get(n), 0) for n in ("embed", "retrieve", "answer"))
    return [
        f"{r.cache} /{r.endpoint}",
        str(r.concurrency),
        fmt(r.latency.n),
        fmt(r.latency.p50_ms),
        fmt(r.latency.p95_ms),
        fmt(r.latency.mean_ms),
        fmt(r.requests_per_s),
        f"{r.errors}/{r.skipped}",
        split if server else "–",
    ]


def http_section(bench: HttpBench) -> str:
    ordered = sorted(bench.results, key=lambda r: (r.cache != "cold", r.endpoint, r.concurrency))
    table = format_table(HTTP_HEADER, [http_row(r) for r in ordered])
    starts = ", ".join(fmt(s) for s in bench.startup_s)
    peaks = ", ".join(fmt(p) for p in bench.peak_rss_mb)
    return (
        f"HTTP API over {bench.questions} eval questions (headline: cold = every question "
        f"embedded; repeated = list x{bench.repeats}, embeddings cached)\n\n{table}\n"
        f"Server start to healthy /health: {starts} s.\n"
        f"Server peak memory (VmHWM) after its passes: {peaks} MB."
    )


def cost_cells(r: DenseRow) -> list[str]:
    return [
        f"{r.size:,} {r.kind}",
        r.setting,
        fmt(r.build_s),
        megabytes(r.serialized_bytes),
        megabytes(r.rss_delta_bytes),
        fmt(r.latency.p50_ms, 2),
        fmt(r.latency.p95_ms, 2),
        fmt(r.cpu_p50_ms, 2),
    ]


def quality_cells(r: DenseRow) -> list[str]:
    return [
        f"{r.size:,} {r.kind}",
        r.setting,
        fmt(r.quality.recall_at_10, 3),
        fmt(r.quality.cos_shortfall, 4),
        fmt(r.quality.control_recall_at_10, 3),
        fmt(r.latency.p50_ms, 2),
        fmt(r.cpu_p50_ms, 2),
    ]


def recommendation_text(scale: ScaleBench) -> str:
    lines = []
    for rec in scale.recommendations:
        basis = "CPU p50" if rec.basis == "cpu" else "wall p50 (under this run's load)"
        if rec.threshold is None:
            lines.append(f"From {basis}: no threshold (needs 2+ sizes over which flat grows).")
            continue
        lines.append(
            f"From {basis}: flat grows {fmt(rec.ms_per_100k, 2)} ms per 100k chunks (intercept "
            f"{fmt(rec.intercept_ms, 2)} ms) and reaches {fmt(rec.budget_ms)} ms at about "
            f"{rec.threshold:,} chunks."
        )
    headline = scale.recommendations[0].threshold if scale.recommendations else None
    if headline is not None:
        lines.append(f"Recommended IndexSettings.ann_threshold (CPU basis): {headline:,}.")
    return "Threshold for `auto` (flat p50 budget)\n" + "\n".join(lines)


def scale_section(scale: ScaleBench) -> str:
    profile = ", ".join(f"{name} {value:.3f}" for name, value in scale.profile.items())
    head = (
        f"SYNTHETIC scale (not real data): {scale.base_vectors} seed vectors + Gaussian noise "
        f"(sigma {scale.sigma:.4f}/coordinate, dim {scale.dimension}); {scale.queries} question "
        f"queries ({scale.real_queries} real eval questions + perturbed copies) and as many "
        f"passage-like controls. Mean question cosine at neighbour rank: {profile}. Latency: one "
        "query at a time, one FAISS thread, k=10."
    )
    bm25_rows = [
        [fmt(b.size), fmt(b.build_s), *(fmt(v, 2) for v in (b.latency.p50_ms, b.latency.p95_ms))]
        for b in scale.bm25
    ]
    return "\n\n".join(
        [
            head,
            "Dense indexes: cost\n"
            + format_table(COST_HEADER, [cost_cells(r) for r in scale.dense]),
            "Dense indexes: quality vs exact\n"
            + format_table(QUALITY_HEADER, [quality_cells(r) for r in scale.dense]),
            f"Search-time sweep at {scale.sizes[-1]:,} chunks\n"
            + format_table(QUALITY_HEADER, [quality_cells(r) for r in scale.sweep]),
            "BM25 (texts of 3-8 random seed sentences; score + top-50 per question)\n"
            + format_table(["chunks", "build s", "p50 ms", "p95 ms"], bm25_rows),
            recommendation_text(scale),
        ]
    )


def format_bench(result: BenchResult) -> str:
    machine = result.machine
    load = machine.get("load_average_start")
    parts = [
        f"rag bench, {result.started_at}: {machine.get('cpus')} CPUs, load average at start "
        f"{load}, at end {machine.get('load_average_end')}; took {fmt(result.seconds)} s."
    ]
    if result.index is not None:
        parts.append(index_section(result.index))
    if result.http is not None:
        parts.append(http_section(result.http))
    if result.scale is not None:
        parts.append(scale_section(result.scale))
    return "\n\n".join(parts)
