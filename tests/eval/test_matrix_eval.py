"""Scoring the matrix against aggregate questions, on hand-made questions and markings."""

from __future__ import annotations

import pytest

from eval.matrix_eval import (
    aggregate_topics,
    matrix_score_table,
    matrix_topic,
    score_matrix,
    unique_topics,
    unsure_share,
)
from eval.questions import GoldQuote, Question
from rag.contract import Confidence
from rag.matrix import Matrix, MatrixCell
from rag.types import Document

SOURCES = frozenset({"a.txt", "b.txt", "c.txt", "d.txt"})


def question(qid: str, text: str, gold: tuple[str, ...], kind: str = "aggregate") -> Question:
    return Question(qid, text, kind, tuple(GoldQuote(s, "sitat") for s in gold))  # type: ignore[arg-type]


QUESTIONS = (
    question("q1", "Hva sier kommunene om fastlegeordningen?", ("a.txt", "b.txt", "c.txt")),
    question("q2", "Hvordan beskriver innspillene helsefellesskapene?", ("b.txt", "d.txt")),
    question("q3", "Hva sier Bergen om legevakt?", ("a.txt",), kind="factual"),
    question("q4", "Hva mener innsenderne om fastlegeordningen", ("a.txt",)),
)


def test_aggregate_questions_become_topics() -> None:
    pairs = aggregate_topics(QUESTIONS)
    assert [(q.id, t) for q, t in pairs] == [
        ("q1", "fastlegeordningen"),
        ("q2", "Hvordan beskriver innspillene helsefellesskapene?"),
        ("q4", "fastlegeordningen"),
    ]
    assert unique_topics(pairs) == [
        "fastlegeordningen",
        "Hvordan beskriver innspillene helsefellesskapene?",
    ]
    assert len(matrix_topic(question("q", "x" * 500, ()))) == 200


def test_coverage_precision_and_cell_accuracy() -> None:
    pairs = aggregate_topics(QUESTIONS)
    marked = {
        "fastlegeordningen": {"a.txt", "b.txt", "d.txt"},  # misses c, adds d
        "Hvordan beskriver innspillene helsefellesskapene?": set(),
    }
    score = score_matrix(pairs, marked, SOURCES)
    by_id = {c.question_id: c for c in score.columns}
    assert by_id["q1"].coverage == pytest.approx(2 / 3)
    assert by_id["q1"].precision == pytest.approx(2 / 3)
    assert by_id["q2"].coverage == 0.0 and by_id["q2"].precision is None  # marks nothing
    assert by_id["q4"].coverage == 1.0 and by_id["q4"].precision == pytest.approx(1 / 3)
    assert score.coverage == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert score.precision == pytest.approx((2 / 3 + 1 / 3) / 2)
    # q1: a b right, c d wrong; q2: a c right, b d wrong; q4: a right, b d wrong, c right
    assert score.cells == 12 and score.cell_accuracy == pytest.approx(6 / 12)


def test_a_perfect_matrix_scores_one_and_the_table_lists_every_question() -> None:
    pairs = aggregate_topics(QUESTIONS[:2])
    marked = {t: {g.source for g in q.relevant} for q, t in pairs}
    score = score_matrix(pairs, marked, SOURCES)
    assert (score.coverage, score.precision, score.cell_accuracy) == (1.0, 1.0, 1.0)
    table = matrix_score_table(score)
    assert "| q1 | fastlegeordningen | 3 | 3 | 1.000 | 1.000 |" in table
    assert "Cell accuracy 1.000 over 8 cells;" in table


def test_sure_cells_are_scored_for_precision_and_the_rest_counted_unsure() -> None:
    pairs = aggregate_topics(QUESTIONS)
    marked = {
        "fastlegeordningen": {"a.txt", "b.txt", "d.txt"},
        "Hvordan beskriver innspillene helsefellesskapene?": {"b.txt"},
    }
    sure = {"fastlegeordningen": {"a.txt", "d.txt"}, "x": {"c.txt"}}
    score = score_matrix(pairs, marked, SOURCES, sure)
    # q1 and q4 share the topic: sure a (gold in both), d (gold in neither); b unsure in both
    assert score.sure_precision == pytest.approx(2 / 4)
    # unsure: q1 b, q2 b, q4 b, of 12 cells
    assert score.unsure_share == pytest.approx(3 / 12)
    assert "«usikkert» 0.250 of the cells" in matrix_score_table(score)
    assert score_matrix(pairs, marked, SOURCES).unsure_share is None


def test_the_unsure_share_counts_the_mentioned_cells_that_are_not_sure() -> None:
    doc = Document("a", "a.txt", "A kommune", "kommune", "A", "tekst", "h")
    marks: tuple[tuple[str, Confidence], ...] = (
        ("x", "high"),
        ("y", "low"),
        ("z", "none"),
        ("w", "low"),
    )
    cells = tuple(MatrixCell(topic, doc, confidence, None, 0.5) for topic, confidence in marks)
    matrix = Matrix(("x", "y", "z", "w"), (doc,), cells, ())
    assert unsure_share(matrix) == pytest.approx(2 / 4)
    assert unsure_share(Matrix((), (), (), ())) is None
