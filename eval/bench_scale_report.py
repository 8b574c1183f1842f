"""The scale bench's JSON (`python -m eval.bench_scale`) as plain-text tables, for people.

python -m eval.bench_scale_report FILE.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.bench_report import fmt, format_table

AGREEMENT_FLOOR = 0.95
SEARCH_HEADER = [
    "sentences", "index", "setting", "build s", "index GB",
    "p50 ms k=50", "k=200", "k=1000", "cpu ms k=200", "agree@10", "one encoder",
]  # fmt: skip


def search_cells(
    size: dict[str, Any], build: dict[str, Any], rows: list[dict[str, Any]]
) -> list[str]:
    """One index at one setting: build, latency per k, agreement (both encoders; the worse of
    the two with one encoder missing)."""
    by_k = {r["k"]: r for r in rows}
    middle = by_k.get(200, rows[0])
    alone = [v for k, v in middle["agreement"].items() if k != "both"]
    return [
        fmt(size["sentences"]),
        build["factory"],
        middle["setting"],
        fmt(build["build_s"], 1),
        fmt(build["index_gb"], 3),
        *(fmt(by_k[k]["latency"]["p50_ms"], 2) if k in by_k else "–" for k in (50, 200, 1000)),
        fmt(middle["cpu_p50_ms"], 2),
        fmt(middle["agreement"]["both"], 3),
        fmt(min(alone), 3) if alone else "–",
    ]


def search_table(sizes: Sequence[dict[str, Any]], target: str = "sentences") -> str:
    lines = []
    for size in sizes:
        for build in (b for b in size["builds"] if b["target"] == target):
            rows = [
                s for s in size["searches"] if s["target"] == target and s["name"] == build["name"]
            ]
            settings = dict.fromkeys(r["setting"] for r in rows)
            for setting in settings:
                lines.append(
                    search_cells(size, build, [r for r in rows if r["setting"] == setting])
                )
    return format_table(SEARCH_HEADER, lines)


def size_table(sizes: Sequence[dict[str, Any]]) -> str:
    header = [
        "sentences", "chunks", "documents", "default", "build s", "serve RSS GB",
        "search p50 ms", "agree@10", "typicality s", "typ. error", "stop rule ms", "found",
    ]  # fmt: skip
    lines = []
    for size in sizes:
        summary, typical, reach = size["summary"], size["typicality"] or {}, size["reach"]
        rule = reach.get("stop rule, built", reach.get("stop_rule", {}))
        lines.append(
            [
                fmt(summary["sentences"]),
                fmt(summary["chunks"]),
                fmt(summary["documents"]),
                summary["faiss_type"],
                fmt(summary["build_s"], 1),
                fmt(summary["rss_gb"], 2),
                fmt(summary["search_p50_ms"], 2),
                fmt(summary["agreement_with_exact"], 3),
                fmt(typical.get("seconds"), 1),
                fmt(typical.get("mean_abs_error"), 5),
                fmt(rule.get("latency", {}).get("p50_ms"), 1),
                fmt(rule.get("found"), 3),
            ]
        )
    return format_table(header, lines)


def report_text(report: dict[str, Any]) -> str:
    sizes = report["sizes"]
    return "\n\n".join(
        [
            f"SYNTHETIC scale bench from {report['started_at']}, load average "
            f"{report['load_average_start']} -> {report['load_average_end']}; "
            f"{report['queries']} real question vectors",
            "Per size (default index, k = 200 candidates, both encoders)\n" + size_table(sizes),
            "Sentences: every index and setting\n" + search_table(sizes),
            "Chunks: the default index\n" + search_table(sizes, "chunks"),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    paths = list(argv if argv is not None else sys.argv[1:])
    if len(paths) != 1:
        print("usage: python -m eval.bench_scale_report FILE.json", file=sys.stderr)
        return 2
    print(report_text(json.loads(Path(paths[0]).read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
