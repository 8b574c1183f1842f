"""The pure parts of `rag bench`: statistics, tables, parsing. Nothing is timed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from eval.bench_http import HttpBench, peak_rss_mb
from eval.bench_index import parse_run
from eval.bench_report import fmt, format_table, http_section
from eval.bench_stats import neighbour_recall, summarise_ms
from indexer.build import BuildReport
from indexer.report import head_line


def test_latency_summary_percentiles_and_mean() -> None:
    summary = summarise_ms([float(v) for v in range(1, 101)])  # 1 .. 100 ms
    assert summary.n == 100
    assert summary.p50_ms == pytest.approx(50.5)
    assert summary.p95_ms == pytest.approx(95.05)
    assert summary.mean_ms == pytest.approx(50.5)
    assert summary.max_ms == 100.0


def test_latency_summary_of_one_and_of_none() -> None:
    one = summarise_ms([7.0])
    assert (one.p50_ms, one.p95_ms, one.mean_ms) == (7.0, 7.0, 7.0)
    assert summarise_ms([]).p50_ms is None


def test_neighbour_recall_counts_shared_rows_per_query() -> None:
    exact = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    found = np.array([[4, 3, 9, 1], [8, -1, -1, -1]])  # 3 of 4, then 1 of 4; order ignored
    assert neighbour_recall(found, exact, k=4) == pytest.approx((3 / 4 + 1 / 4) / 2)
    assert neighbour_recall(exact, exact, k=4) == 1.0
    assert neighbour_recall(found, exact, k=1) == pytest.approx(0.0)  # 4 != 1, 8 != 5


def test_neighbour_recall_refuses_no_queries() -> None:
    with pytest.raises(ValueError, match="at least one query"):
        empty = np.empty((0, 10), dtype=np.int64)
        neighbour_recall(empty, empty, k=10)


def test_table_aligns_columns_under_the_header() -> None:
    table = format_table(["name", "ms"], [["flat", "12.5"], ["hnsw", "0.3"]])
    lines = table.splitlines()
    assert lines[0] == "name    ms"
    assert lines[1] == "----  ----"
    assert lines[2:] == ["flat  12.5", "hnsw   0.3"]


def test_cells_separate_thousands_and_mark_missing_values() -> None:
    assert fmt(100_000) == "100,000"
    assert fmt(1234.567, 2) == "1,234.57"
    assert fmt(None) == "–"


def summary_line(embedded: int, cached: int, unchanged: bool = False) -> str:
    """The line `rag index` prints, made by the indexer's own report code."""
    report = BuildReport(
        Path("/tmp/i"), (), 277, embedded, cached, (), (), 40.0, unchanged=unchanged
    )
    return head_line(report) + "\n\nSubmitters:\n  a.txt  Moss kommune"


@pytest.mark.parametrize(("embedded", "cached"), [(1532, 0), (12, 1520), (0, 1532)])
def test_index_summary_lines_are_parsed(embedded: int, cached: int) -> None:
    built = parse_run(
        "cold", summary_line(embedded, cached), wall_s=42.0, cpu_s=70.0, peak=1024, exit_code=0
    )
    assert (built.chunks, built.embedded, built.build_s) == (277, embedded, 40.0)
    assert built.chunks_per_s == pytest.approx(277 / 40.0)


def test_an_unchanged_index_is_parsed() -> None:
    unchanged = parse_run(
        "unchanged",
        summary_line(0, 0, unchanged=True),
        wall_s=2.0,
        cpu_s=1.5,
        peak=None,
        exit_code=0,
    )
    assert (unchanged.chunks, unchanged.embedded, unchanged.build_s) == (277, 0, None)


def test_peak_memory_is_read_from_proc() -> None:
    own = peak_rss_mb(os.getpid())
    assert own is not None and own > 10  # this Python process holds numpy and pytest
    assert peak_rss_mb(2**22 + 12345) is None  # above Linux's largest pid: no such process


def test_http_section_states_each_servers_peak_memory() -> None:
    bench = HttpBench((), (2.5, 2.4), questions=3, repeats=2, peak_rss_mb=(812.25, None))
    assert "Server peak memory (VmHWM) after its passes: 812.2, – MB." in http_section(bench)
