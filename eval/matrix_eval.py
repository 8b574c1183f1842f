"""Scoring the topic × submitter matrix against the aggregate questions (pure functions).

Each aggregate question becomes one matrix topic: its «om …» part («Hva sier kommunene om
fastlegeordningen?» -> «fastlegeordningen»), or the whole question when it has none. Its gold
submitters are the sources of its gold quotes. Per topic column, submitter coverage is the share
of gold submitters the column marks and precision the share of marked submitters that are gold;
cell accuracy counts every cell (marked gold and unmarked non-gold cells are right). Of the
marked cells, the sure ones («omtaler», confidence "high") are scored for precision, and the
share of all cells that are «usikkert» is counted, on these topics and on the default ones
(`unsure_share` of any matrix).

`rag eval` (in-process) runs `evaluate_matrix` on the aggregate questions of its split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from eval.metrics import mean, submitter_coverage, submitter_precision
from eval.questions import Question
from eval.report import cell as table_cell
from eval.report import markdown_table
from rag.answer import topic_of
from rag.contract import MAX_TOPIC_CHARS
from rag.matrix import Matrix, run_matrix
from rag.service import Service
from rag.types import NO_FILTERS


@dataclass(frozen=True)
class ColumnScore:
    question_id: str
    topic: str
    gold: frozenset[str]
    marked: frozenset[str]
    coverage: float | None
    precision: float | None


@dataclass(frozen=True)
class MatrixScore:
    columns: tuple[ColumnScore, ...]
    coverage: float | None  # mean over the columns
    precision: float | None  # mean over the columns that mark anything
    cell_accuracy: float | None
    cells: int
    sure_precision: float | None = None  # of the sure cells, the share whose submitter is gold
    unsure_share: float | None = None  # of all cells, the share «usikkert»


def matrix_topic(question: Question) -> str:
    return (topic_of(question.question) or question.question.strip())[:MAX_TOPIC_CHARS]


def aggregate_topics(questions: Sequence[Question]) -> list[tuple[Question, str]]:
    """Every aggregate question with its topic."""
    return [(q, matrix_topic(q)) for q in questions if q.kind == "aggregate"]


def unique_topics(pairs: Sequence[tuple[Question, str]]) -> list[str]:
    """The topics to ask the matrix for (two questions may share one)."""
    return list(dict.fromkeys(topic for _, topic in pairs))


def marked_by_topic(matrix: Matrix) -> dict[str, frozenset[str]]:
    """Per topic, the sources (file names, as in the gold quotes) of the marked submitters."""
    marked: dict[str, set[str]] = {topic: set() for topic in matrix.topics}
    for cell in matrix.cells:
        if cell.mentioned:
            marked[cell.topic].add(cell.document.source)
    return {topic: frozenset(sources) for topic, sources in marked.items()}


def sure_by_topic(matrix: Matrix) -> dict[str, frozenset[str]]:
    """Per topic, the sources of the submitters marked sure («omtaler»)."""
    sure: dict[str, set[str]] = {topic: set() for topic in matrix.topics}
    for cell in matrix.cells:
        if cell.confidence == "high":
            sure[cell.topic].add(cell.document.source)
    return {topic: frozenset(sources) for topic, sources in sure.items()}


def unsure_share(matrix: Matrix) -> float | None:
    """The share of the matrix's cells that are «usikkert» (mentioned, not sure)."""
    cells = list(matrix.cells)
    return sum(c.confidence == "low" for c in cells) / len(cells) if cells else None


def score_matrix(
    pairs: Sequence[tuple[Question, str]],
    marked: Mapping[str, Set[str]],
    sources: Set[str],
    sure: Mapping[str, Set[str]] | None = None,
) -> MatrixScore:
    """Coverage and precision per column, and the share of right cells over all of them; with
    the `sure` cells, their precision and the share of cells marked but not sure.

    `sources` are all submitters in the matrix: each column has one cell per source.
    """
    columns: list[ColumnScore] = []
    right = sure_right = sure_cells = unsure = 0
    for question, topic in pairs:
        gold = frozenset(g.source for g in question.relevant) & frozenset(sources)
        hits = frozenset(marked.get(topic, frozenset())) & frozenset(sources)
        columns.append(
            ColumnScore(
                question.id,
                topic,
                gold,
                hits,
                submitter_coverage(hits, gold),
                submitter_precision(hits, gold),
            )
        )
        right += sum((s in hits) == (s in gold) for s in sources)
        if sure is not None:
            certain = frozenset(sure.get(topic, frozenset())) & hits
            sure_cells += len(certain)
            sure_right += len(certain & gold)
            unsure += len(hits - certain)
    cells = len(pairs) * len(sources)
    return MatrixScore(
        tuple(columns),
        mean(c.coverage for c in columns),
        mean(c.precision for c in columns),
        right / cells if cells else None,
        cells,
        sure_right / sure_cells if sure is not None and sure_cells else None,
        unsure / cells if sure is not None and cells else None,
    )


def evaluate_matrix(service: Service, questions: Sequence[Question]) -> MatrixScore:
    """The matrix of the aggregate questions' topics, scored against their gold submitters."""
    pairs = aggregate_topics(questions)
    matrix = run_matrix(service.decisions_for_many, unique_topics(pairs), NO_FILTERS)
    sources = {d.source for d in matrix.submitters}
    return score_matrix(pairs, marked_by_topic(matrix), sources, sure_by_topic(matrix))


def matrix_score_table(score: MatrixScore) -> str:
    """A Markdown table: one row per aggregate question, then the means."""
    rows: list[list[object]] = [
        [c.question_id, c.topic, len(c.gold), len(c.marked), c.coverage, c.precision]
        for c in score.columns
    ]
    rows.append(["**mean**", "", "", "", score.coverage, score.precision])
    table = markdown_table(["question", "topic", "gold", "marked", "coverage", "precision"], rows)
    return (
        f"{table}\n\nCell accuracy {table_cell(score.cell_accuracy)} over {score.cells} cells; "
        f"sure cells («omtaler») precision {table_cell(score.sure_precision)}, "
        f"«usikkert» {table_cell(score.unsure_share)} of the cells."
    )
