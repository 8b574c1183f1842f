"""Turn an evaluation into tables, a Markdown and JSON report and a bar chart of retrievers."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.gate import FloorCheck
from eval.summary import EvalResult, RetrievalSummary

log = logging.getLogger(__name__)

DEFAULT_REPORTS = Path("eval/reports")
RETRIEVAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("R@1", "recall_at_1"),
    ("R@5", "recall_at_5"),
    ("R@10", "recall_at_10"),
    ("MRR@10", "mrr_at_10"),
    ("nDCG@10", "ndcg_at_10"),
)
ASK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("no-answer rate", "no_answer_rate"),
    ("citations", "citations"),
    ("citation exactness", "citation_exactness"),
    ("citation precision", "citation_precision"),
    ("submitter coverage", "submitter_coverage"),
    ("submitter precision", "submitter_precision"),
    ("quote hit rate", "quote_hit_rate"),
    ("low confidence", "low_confidence_rate"),
    ("high confidence", "high_confidence_rate"),
)


SPLIT_NOTE = (
    "Splits: dev is for choosing settings (`rag eval --calibrate` reads dev alone), test is "
    "what is reported and what the floors check, so figures on dev are in-sample for the "
    "policy. ui_examples = the example questions the UI offers."
)


@dataclass(frozen=True)
class ReportPaths:
    json: Path
    markdown: Path
    chart: Path | None


def cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def retrieval_table(result: EvalResult) -> str:
    """split × retriever × kind."""
    rows = [
        [split, mode, group, summary.n, *(getattr(summary, a) for _, a in RETRIEVAL_COLUMNS)]
        for split, tables in result.retrieval.items()
        for mode, table in tables.items()
        for group, summary in table.items()
    ]
    header = ["split", "retriever", "kind", "n", *(name for name, _ in RETRIEVAL_COLUMNS)]
    return markdown_table(header, rows)


def ask_table(result: EvalResult) -> str:
    """split × kind."""
    rows = [
        [split, group, summary.n, *(getattr(summary, attr) for _, attr in ASK_COLUMNS)]
        for split, table in result.ask.items()
        for group, summary in table.items()
    ]
    return markdown_table(["split", "kind", "n", *(name for name, _ in ASK_COLUMNS)], rows)


def latency_table(result: EvalResult) -> str:
    rows = [[name, lat.n, lat.p50_ms, lat.p95_ms] for name, lat in result.latency.items()]
    return markdown_table(["endpoint", "calls", "p50 ms", "p95 ms"], rows)


def floors_table(checks: Sequence[FloorCheck]) -> str:
    rows = [
        [c.metric, c.value, (">= " if c.direction == "min" else "<= ") + f"{c.bound:.3f}", c.status]
        for c in checks
    ]
    return markdown_table(["metric", "value", "bound", "status"], rows)


def missed_questions(result: EvalResult) -> str:
    """Answerable questions with no gold hit in the top 10, and /ask's wrong no-answer calls."""
    lines = []
    for mode in dict.fromkeys(r.mode for r in result.retrieval_rows):
        missed = [
            r.id
            for r in result.retrieval_rows
            if r.mode == mode and r.n_gold and not r.first_hit_rank
        ]
        late = [
            f"{r.id} ({r.first_hit_rank})"
            for r in result.retrieval_rows
            if r.mode == mode and r.first_hit_rank and r.first_hit_rank > 1
        ]
        lines.append(f"- {mode}: no gold passage in top 10: {', '.join(missed) or 'none'}")
        lines.append(f"- {mode}: first gold passage below rank 1: {', '.join(late) or 'none'}")
    if result.ask_rows:
        answered = [r.id for r in result.ask_rows if r.kind == "negative" and not r.no_answer]
        refused = [r.id for r in result.ask_rows if r.kind != "negative" and r.no_answer]
        lines.append(f"- /ask answered negative questions: {', '.join(answered) or 'none'}")
        lines.append(
            f"- /ask said no answer to answerable questions: {', '.join(refused) or 'none'}"
        )
    return "\n".join(lines)


def format_tables(result: EvalResult, checks: Sequence[FloorCheck] = ()) -> str:
    """What `rag eval` prints: the retrieval, answer, latency and floor tables."""
    parts = [
        f"Retrieval ({result.target}, {result.questions} questions)",
        SPLIT_NOTE,
        retrieval_table(result),
    ]
    if result.ask:
        parts += ["Answers (/ask)", ask_table(result)]
    parts += ["Latency", latency_table(result)]
    if checks:
        parts += ["Floors (eval/floors.json)", floors_table(checks)]
    parts += [f"Note: {note}" for note in result.notes]
    return "\n\n".join(parts)


def format_markdown(
    result: EvalResult, checks: Sequence[FloorCheck] = (), extra: Sequence[str] = ()
) -> str:
    located = ", ".join(f"{n} {method}" for method, n in sorted(result.gold_located.items()))
    parts = [
        f"# Evaluation {result.started_at}",
        f"Target: `{result.target}`; {result.questions} questions; gold quotes located: {located}.",
        "## Retrieval (top 10 passages; overall = answerable questions)",
        SPLIT_NOTE,
        retrieval_table(result),
    ]
    if result.ask:
        parts += ["## Answers (/ask)", ask_table(result)]
    parts += ["## Latency", latency_table(result)]
    if checks:
        parts += ["## Floors", floors_table(checks)]
    parts += ["## Questions to look at", missed_questions(result), *extra]
    if result.notes:
        parts += ["## Notes", *(f"- {note}" for note in result.notes)]
    if result.settings:
        parts += ["## Settings", f"```json\n{json.dumps(result.settings, indent=2)}\n```"]
    return "\n\n".join(parts) + "\n"


def result_json(
    result: EvalResult, checks: Sequence[FloorCheck] = (), extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = dataclasses.asdict(result)
    body["floors"] = [{**dataclasses.asdict(c), "message": c.message} for c in checks]
    return {**body, **(extra or {})}


def plot_retrievers(result: EvalResult, path: Path) -> Path | None:
    """Grouped bars: each retrieval metric per retriever, one panel per kind and overall, for the
    test split (or the one split evaluated)."""
    if not result.retrieval:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    split = "test" if "test" in result.retrieval else next(iter(result.retrieval))
    retrieval = result.retrieval[split]
    modes = list(retrieval)
    groups = list(next(iter(retrieval.values())))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.8), sharey=True)
    axes_list = list(axes) if len(groups) > 1 else [axes]
    width = 0.8 / len(modes)
    for ax, group in zip(axes_list, groups, strict=True):
        for i, mode in enumerate(modes):
            summary: RetrievalSummary = retrieval[mode][group]
            values = [getattr(summary, attr) or 0.0 for _, attr in RETRIEVAL_COLUMNS]
            xs = [x + (i - (len(modes) - 1) / 2) * width for x in range(len(values))]
            ax.bar(xs, values, width, label=mode)
        ax.set_xticks(range(len(RETRIEVAL_COLUMNS)), [n for n, _ in RETRIEVAL_COLUMNS], fontsize=8)
        ax.set_title(f"{group} (n={retrieval[modes[0]][group].n})")
        ax.set_ylim(0, 1)
    axes_list[0].legend(fontsize=8)
    fig.suptitle(f"Retrievers compared (top 10, {split} split)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def timestamp() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


def write_report(
    result: EvalResult,
    out_dir: Path = DEFAULT_REPORTS,
    checks: Sequence[FloorCheck] = (),
    stamp: str | None = None,
    extra_markdown: Sequence[str] = (),
    extra_json: dict[str, Any] | None = None,
) -> ReportPaths:
    """Write <stamp>.json, <stamp>.md and <stamp>.png into `out_dir`."""
    stamp = stamp or timestamp()
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{stamp}.json", out_dir / f"{stamp}.md"
    body = result_json(result, checks, extra_json)
    json_path.write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
    md_path.write_text(format_markdown(result, checks, extra_markdown), encoding="utf-8")
    chart = plot_retrievers(result, out_dir / f"{stamp}.png")
    log.info("wrote report %s", md_path)
    return ReportPaths(json_path, md_path, chart)
