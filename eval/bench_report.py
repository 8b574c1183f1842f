"""The benchmark as plain-text tables, for people."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from eval.bench_http import HttpBench, LoadResult, matrix_p50, peak_mb, repeated_p50
from eval.bench_index import IndexBench
from eval.bench_service import SizeRun

if TYPE_CHECKING:
    from eval.bench import BenchResult

MB = 1024 * 1024

SCALE_HEADER: tuple[str, ...] = (
    "sentences",
    "chunks",
    "documents",
    "write s",
    "start s",
    "/search p50",
    "/ask p50",
    "/ask p95",
    "/matrix p50",
    "peak MB",
    "top 10 found",
    "answers alike",
    "cells alike",
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


def scale_cells(run: SizeRun) -> list[str]:
    http, alike = run.http, run.agreement
    return [
        fmt(run.sentences),
        fmt(run.chunks),
        fmt(run.documents),
        fmt(run.write_s),
        fmt(max(http.startup_s) if http.startup_s else None),
        fmt(repeated_p50(http, "search")),
        fmt(repeated_p50(http, "ask")),
        fmt(repeated_p50(http, "ask", "p95_ms")),
        fmt(matrix_p50(http)),
        fmt(peak_mb(http), 0),
        fmt(alike.search_top10, 3),
        fmt(alike.ask_same, 3),
        fmt(alike.matrix_cells, 3),
    ]


def scale_section(runs: Sequence[SizeRun]) -> str:
    indexes = "; ".join(
        f"{r.sentences:,}: " + ", ".join(f"{k} {v}" for k, v in r.vector_indexes.items())
        for r in runs
    )
    compared = "; ".join(
        f"{r.sentences:,}: {r.agreement.questions} questions, {r.agreement.topics} topics, /ask "
        f"{fmt(r.agreement.candidate_ms)} ms through candidates, {fmt(r.agreement.every_row_ms)} "
        "ms scoring every row"
        for r in runs
    )
    return (
        "SYNTHETIC scale (not real text; `eval.synthetic`): the service over N sentences, one "
        "client, latency in ms with the questions' vectors cached (embedding is not timed); "
        "/matrix from its first pass, none if a request of it timed out. "
        "Alike = candidates as served against scoring every row.\n\n"
        + format_table(SCALE_HEADER, [scale_cells(r) for r in runs])
        + f"\nVector indexes: {indexes}.\nCompared in process: {compared}."
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
    if result.scale:
        parts.append(scale_section(result.scale))
    return "\n\n".join(parts)
