"""Per-question result rows and their summaries per retriever and question kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eval import metrics
from eval.questions import ANSWERABLE_KINDS, KINDS
from rag.retrieve import MODES, Mode

OVERALL = "overall"
ANSWERABLE = "answerable"


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
    )


def groups(kinds: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Table rows: each kind present, then the groups that pool several kinds."""
    present = [k for k in KINDS if k in kinds]
    return {
        **{k: (k,) for k in present},
        ANSWERABLE: ANSWERABLE_KINDS,
        OVERALL: tuple(present),
    }


def retrieval_tables(rows: Sequence[RetrievalRow]) -> dict[str, dict[str, RetrievalSummary]]:
    """Per retriever: one summary per answerable kind and `overall` (all answerable questions)."""
    tables: dict[str, dict[str, RetrievalSummary]] = {}
    for mode in dict.fromkeys(r.mode for r in rows):
        scored = [r for r in rows if r.mode == mode and r.kind in ANSWERABLE_KINDS]
        kinds: list[str] = [k for k in ANSWERABLE_KINDS if any(r.kind == k for r in scored)]
        table = {k: summarise_retrieval([r for r in scored if r.kind == k]) for k in kinds}
        table[OVERALL] = summarise_retrieval(scored)
        tables[mode] = table
    return tables


def ask_table(rows: Sequence[AskRow]) -> dict[str, AskSummary]:
    """One summary per kind, `answerable` (all but negative) and `overall`."""
    return {
        name: summarise_ask([r for r in rows if r.kind in kinds])
        for name, kinds in groups([r.kind for r in rows]).items()
    }


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
    """One evaluation run: summaries per retriever and kind, per-question rows, latencies."""

    started_at: str
    target: str
    questions: int
    retrieval: dict[str, dict[str, RetrievalSummary]]
    ask: dict[str, AskSummary]
    latency: dict[str, Latency]
    gold_located: dict[str, int]
    retrieval_rows: tuple[RetrievalRow, ...] = ()
    ask_rows: tuple[AskRow, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def retrieval_metric(
    result: EvalResult, mode: str, attr: str, group: str = OVERALL
) -> float | None:
    """One number of the retrieval table, or None when that retriever or kind was not run."""
    summary = result.retrieval.get(mode, {}).get(group)
    value: float | None = getattr(summary, attr) if summary else None
    return value


def ask_metric(result: EvalResult, group: str, attr: str) -> float | None:
    """One number of the /ask table, or None when no question of that group was asked."""
    summary = result.ask.get(group)
    value: float | None = getattr(summary, attr) if summary else None
    return value
