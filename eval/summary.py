"""Per-question result rows and their summaries per split, retriever and question kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eval import metrics
from eval.questions import ANSWERABLE_KINDS, KINDS, SPLITS
from rag.retrieve import MODES, Mode

OVERALL = "overall"
ANSWERABLE = "answerable"
UI_EXAMPLES = "ui_examples"  # the UI's example questions, always reported as their own group
ALL = "all"  # every evaluated question, when more than one split was evaluated


@dataclass(frozen=True)
class RetrievalRow:
    id: str
    kind: str
    mode: Mode
    n_gold: int
    recall: dict[int, float]
    reciprocal_rank: float
    ndcg: float
    first_hit_rank: int | None
    latency_ms: float
    split: str = "test"
    ui_example: bool = False


@dataclass(frozen=True)
class AskRow:
    id: str
    kind: str
    no_answer: bool
    citations: int
    exact_citations: int
    citations_on_gold: int
    cited_submitters: tuple[str, ...]
    gold_submitters: tuple[str, ...]
    latency_ms: float
    split: str = "test"
    ui_example: bool = False
    confidence: str | None = None
    quote_hit: bool = False  # some citation overlaps a gold quote


@dataclass(frozen=True)
class RetrievalSummary:
    n: int
    recall_at_1: float | None
    recall_at_5: float | None
    recall_at_10: float | None
    mrr_at_10: float | None
    ndcg_at_10: float | None


@dataclass(frozen=True)
class AskSummary:
    n: int
    no_answer_rate: float | None
    citations: int
    citation_exactness: float | None
    citation_precision: float | None
    submitter_coverage: float | None
    submitter_precision: float | None
    quote_hit_rate: float | None = None
    low_confidence_rate: float | None = None
    high_confidence_rate: float | None = None


@dataclass(frozen=True)
class Latency:
    n: int
    p50_ms: float | None
    p95_ms: float | None


def summarise_retrieval(rows: Sequence[RetrievalRow]) -> RetrievalSummary:
    return RetrievalSummary(
        n=len(rows),
        recall_at_1=metrics.mean(r.recall[1] for r in rows),
        recall_at_5=metrics.mean(r.recall[5] for r in rows),
        recall_at_10=metrics.mean(r.recall[10] for r in rows),
        mrr_at_10=metrics.mean(r.reciprocal_rank for r in rows),
        ndcg_at_10=metrics.mean(r.ndcg for r in rows),
    )


def summarise_ask(rows: Sequence[AskRow]) -> AskSummary:
    citations = sum(r.citations for r in rows)
    answerable = [r for r in rows if r.kind != "negative"]
    cited_answerable = sum(r.citations for r in answerable)
    aggregate = [r for r in rows if r.kind == "aggregate"]
    return AskSummary(
        n=len(rows),
        no_answer_rate=metrics.rate(r.no_answer for r in rows),
        citations=citations,
        citation_exactness=sum(r.exact_citations for r in rows) / citations if citations else None,
        citation_precision=(
            sum(r.citations_on_gold for r in answerable) / cited_answerable
            if cited_answerable
            else None
        ),
        submitter_coverage=metrics.mean(
            metrics.submitter_coverage(set(r.cited_submitters), set(r.gold_submitters))
            for r in aggregate
        ),
        submitter_precision=metrics.mean(
            metrics.submitter_precision(set(r.cited_submitters), set(r.gold_submitters))
            for r in aggregate
        ),
        quote_hit_rate=metrics.rate(r.quote_hit for r in answerable),
        low_confidence_rate=metrics.confidence_share((r.confidence for r in rows), "low"),
        high_confidence_rate=metrics.confidence_share((r.confidence for r in rows), "high"),
    )


Row = TypeVar("Row", RetrievalRow, AskRow)


def groups(rows: Sequence[Row]) -> dict[str, list[Row]]:
    """Table rows: each kind present, the pooled `answerable` and `overall`, and the UI examples."""
    present = [k for k in KINDS if any(r.kind == k for r in rows)]
    grouped: dict[str, list[Row]] = {k: [r for r in rows if r.kind == k] for k in present}
    grouped[ANSWERABLE] = [r for r in rows if r.kind in ANSWERABLE_KINDS]
    grouped[OVERALL] = list(rows)
    ui = [r for r in rows if r.ui_example]
    if ui:
        grouped[UI_EXAMPLES] = ui
    return grouped


def by_split(rows: Sequence[Row]) -> dict[str, list[Row]]:
    """The rows of each split present, then `all` of them when there is more than one split."""
    present = [s for s in SPLITS if any(r.split == s for r in rows)]
    grouped: dict[str, list[Row]] = {s: [r for r in rows if r.split == s] for s in present}
    if len(present) > 1:
        grouped[ALL] = list(rows)
    return grouped


RetrievalTable = dict[str, dict[str, RetrievalSummary]]  # retriever -> group -> summary
AskTable = dict[str, AskSummary]  # group -> summary


def retrieval_table(rows: Sequence[RetrievalRow]) -> RetrievalTable:
    """Per retriever: one summary per answerable kind, `overall` (all answerable questions) and
    the UI examples; negatives have nothing to find."""
    tables: RetrievalTable = {}
    for mode in dict.fromkeys(r.mode for r in rows):
        scored = [r for r in rows if r.mode == mode and r.kind in ANSWERABLE_KINDS]
        grouped = groups(scored)
        del grouped[ANSWERABLE]  # the same rows as overall here
        tables[mode] = {name: summarise_retrieval(group) for name, group in grouped.items()}
    return tables


def retrieval_tables(rows: Sequence[RetrievalRow]) -> dict[str, RetrievalTable]:
    """split -> retriever -> group -> summary."""
    return {split: retrieval_table(group) for split, group in by_split(rows).items()}


def ask_table(rows: Sequence[AskRow]) -> AskTable:
    """One summary per kind, `answerable` (all but negative), `overall` and the UI examples."""
    return {name: summarise_ask(group) for name, group in groups(rows).items()}


def ask_tables(rows: Sequence[AskRow]) -> dict[str, AskTable]:
    """split -> group -> summary."""
    return {split: ask_table(group) for split, group in by_split(rows).items()}


def latencies(retrieval: Sequence[RetrievalRow], ask: Sequence[AskRow]) -> dict[str, Latency]:
    samples = {f"search[{m}]": [r.latency_ms for r in retrieval if r.mode == m] for m in MODES}
    samples["ask"] = [r.latency_ms for r in ask]
    return {
        name: Latency(len(v), metrics.percentile(v, 50), metrics.percentile(v, 95))
        for name, v in samples.items()
        if v
    }


@dataclass(frozen=True)
class EvalResult:
    """One evaluation run: summaries per split, retriever and kind, per-question rows, latencies."""

    started_at: str
    target: str
    questions: int
    retrieval: dict[str, RetrievalTable]  # split -> retriever -> group -> summary
    ask: dict[str, AskTable]  # split -> group -> summary
    latency: dict[str, Latency]
    gold_located: dict[str, int]
    retrieval_rows: tuple[RetrievalRow, ...] = ()
    ask_rows: tuple[AskRow, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def retrieval_metric(
    result: EvalResult, mode: str, attr: str, group: str = OVERALL, split: str = "test"
) -> float | None:
    """One number of the retrieval tables, or None when that split, retriever or group was not
    evaluated."""
    summary = result.retrieval.get(split, {}).get(mode, {}).get(group)
    value: float | None = getattr(summary, attr) if summary else None
    return value


def ask_metric(result: EvalResult, group: str, attr: str, split: str = "test") -> float | None:
    """One number of the /ask tables, or None when no question of that split and group was asked."""
    summary = result.ask.get(split, {}).get(group)
    value: float | None = getattr(summary, attr) if summary else None
    return value
