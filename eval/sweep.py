"""Compare chunk settings: build an index per chunk setting into a temporary directory, run the
eval against each, and tabulate the headline numbers (the embedding cache makes repeated sweeps
fast). How the rankings are fused is calibrated with the rest of the policy (`rag eval
--calibrate`), not swept here.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eval.backends import EvalError, InProcessBackend
from eval.gate import check_floors, headline_metrics, load_floors
from eval.questions import Question, load_questions
from eval.report import markdown_table, write_report
from eval.runner import EvalRequest, Outcome, run_eval, snapshot_of
from eval.summary import ANSWERABLE, EvalResult, ask_metric, retrieval_metric
from rag.config import ChunkSettings, Settings, with_index
from rag.embed import Embedder
from rag.encoders import make_encoders
from rag.retrieve import MODES, Mode

log = logging.getLogger(__name__)

CHUNK_GRID: tuple[tuple[int, int], ...] = ((400, 50), (800, 100), (1200, 150), (800, 0), (800, 200))
DEFAULT_SOURCES: tuple[Path, ...] = (Path("seeds"),)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class SweepConfig:
    name: str
    chunk: ChunkSettings
    modes: tuple[Mode, ...] = MODES


@dataclass(frozen=True)
class SweepRow:
    name: str
    chunk_size: int
    overlap: int
    chunks: int
    metrics: dict[str, float | None]


SWEEP_SPLIT = "dev"  # settings are chosen on dev; test stays unseen until it is reported


def dev_retrieval(mode: str, attr: str) -> Callable[[EvalResult], float | None]:
    return lambda r: retrieval_metric(r, mode, attr, split=SWEEP_SPLIT)


def dev_ask(group: str, attr: str) -> Callable[[EvalResult], float | None]:
    return lambda r: ask_metric(r, group, attr, SWEEP_SPLIT)


COLUMNS: dict[str, Callable[[EvalResult], float | None]] = {
    "hybrid R@5": dev_retrieval("hybrid", "recall_at_5"),
    "hybrid R@10": dev_retrieval("hybrid", "recall_at_10"),
    "paraphrase R@10": lambda r: retrieval_metric(
        r, "hybrid", "recall_at_10", "paraphrase", SWEEP_SPLIT
    ),
    "hybrid MRR@10": dev_retrieval("hybrid", "mrr_at_10"),
    "hybrid nDCG@10": dev_retrieval("hybrid", "ndcg_at_10"),
    "dense MRR@10": dev_retrieval("dense", "mrr_at_10"),
    "bm25 MRR@10": dev_retrieval("bm25", "mrr_at_10"),
    "agg. coverage": dev_ask("aggregate", "submitter_coverage"),
    "agg. precision": dev_ask("aggregate", "submitter_precision"),
    "neg. refused": dev_ask("negative", "no_answer_rate"),
    "false refusals": dev_ask(ANSWERABLE, "no_answer_rate"),
    "citation precision": dev_ask(ANSWERABLE, "citation_precision"),
}


def chunk_configs(
    base: Settings, grid: Sequence[tuple[int, int]] = CHUNK_GRID
) -> list[SweepConfig]:
    """The base chunk settings first, then the grid (each size/overlap once)."""
    sizes = dict.fromkeys([(base.chunk.size, base.chunk.overlap), *grid])
    return [
        SweepConfig(f"chunk {size}/{overlap}", ChunkSettings(size=size, overlap=overlap))
        for size, overlap in sizes
    ]


def configured(settings: Settings, config: SweepConfig, index: Path) -> Settings:
    return with_index(settings, index).model_copy(update={"chunk": config.chunk})


def index_for(
    config: SweepConfig,
    settings: Settings,
    sources: Sequence[Path],
    workdir: Path,
    embedder: Embedder,
) -> Path:
    """The index for the config's chunk settings, built on first use."""
    from indexer.build import build_index

    out = workdir / f"chunk-{config.chunk.size}-{config.chunk.overlap}"
    if not out.exists():
        log.info("building %s for %s", out, config.name)
        build_index(list(sources), out, configured(settings, config, out), lambda: embedder)
    return out


def evaluate_config(
    config: SweepConfig,
    settings: Settings,
    questions: Sequence[Question],
    index: Path,
    embedder: Embedder,
) -> tuple[SweepRow, EvalResult]:
    from rag.service import Service

    service = Service.load(configured(settings, config, index), embedder)
    snapshot = snapshot_of(service)
    result = run_eval(InProcessBackend(service), questions, config.modes, settings=snapshot)
    row = SweepRow(
        name=config.name,
        chunk_size=config.chunk.size,
        overlap=config.chunk.overlap,
        chunks=len(service.index.chunks),
        metrics={name: column(result) for name, column in COLUMNS.items()},
    )
    return row, result


def run_sweep(
    settings: Settings,
    questions: Sequence[Question],
    configs: Sequence[SweepConfig],
    workdir: Path,
    sources: Sequence[Path] = DEFAULT_SOURCES,
    embedder: Embedder | None = None,
    on_config: Progress | None = None,
) -> list[tuple[SweepRow, EvalResult]]:
    """Evaluate every configuration; the first one's chunk settings are built first."""
    embedder = embedder or make_encoders(settings.embedding)
    results = []
    for number, config in enumerate(configs, start=1):
        if on_config:
            on_config(f"[{number}/{len(configs)}] {config.name}")
        index = index_for(config, settings, sources, workdir, embedder)
        results.append(evaluate_config(config, settings, questions, index, embedder))
    return results


def sweep_table(rows: Sequence[SweepRow]) -> str:
    header = ["configuration", "chunks", *COLUMNS]
    return markdown_table(header, [[r.name, r.chunks, *r.metrics.values()] for r in rows])


SWEEP_NOTE = (
    "Index rebuilt per chunk setting, every retriever. Every column is measured on the dev "
    "split, so choosing a setting here does not tune it on the test numbers. Retrieval columns "
    "are over answerable questions (top 10). A passage counts when it overlaps a gold quote, so "
    "longer chunks find gold more easily: compare chunk sizes with that in mind. The answer "
    "columns come from /ask under the policy in force (rag.policy), calibrated for the base "
    "chunking. With about 80 answerable dev questions, one question moving from rank 1 to rank "
    "2 changes MRR@10 by about 0.006."
)


def sweep(
    request: EvalRequest,
    settings: Settings,
    sources: Sequence[Path] = DEFAULT_SOURCES,
    on_config: Progress | None = None,
) -> tuple[Outcome, list[SweepRow]]:
    """Run the chunk sweep; the report is the base configuration's full eval plus the
    comparison table."""
    if request.api:
        raise EvalError("the sweep builds its own indexes and runs in-process; drop --api")
    questions = load_questions(request.questions)
    configs = chunk_configs(settings)
    with tempfile.TemporaryDirectory(prefix="rag-sweep-") as workdir:
        results = run_sweep(settings, questions, configs, Path(workdir), sources, None, on_config)
    rows = [row for row, _ in results]
    base = results[0][1]
    floors = load_floors(request.floors, base.settings.get("encoders", []))
    checks = check_floors(headline_metrics(base), floors or ())
    extra_json: dict[str, Any] = {"sweep": [asdict(r) for r in rows]}
    paths = write_report(
        base,
        request.out,
        checks,
        extra_markdown=["## Sweep", SWEEP_NOTE, sweep_table(rows)],
        extra_json=extra_json,
    )
    return Outcome(base, checks, paths), rows
