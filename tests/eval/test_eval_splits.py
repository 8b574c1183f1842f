"""Reporting per split and for the UI examples, and the confidence field, on a fake backend."""

from __future__ import annotations

import dataclasses

import pytest
from eval_fakes import BERGEN_FIRST, MOSS_FIRST, QUESTIONS, RANKINGS, REPLIES, FakeBackend, cite

from eval.backends import Reply
from eval.gate import headline_metrics
from eval.questions import GoldQuote, Question
from eval.report import format_tables
from eval.runner import run_eval
from eval.summary import EvalResult

# f1 (factual) moves to dev; a1 and n1 stay in test; p1 is a UI example in test.
P1 = Question(
    "p1",
    "Hvor er legene?",
    "paraphrase",
    (GoldQuote("bergen.txt", "Bergen kommune vil ha kortere lister for fastlegene."),),
    ui_example=True,
)
SPLIT_QUESTIONS = (dataclasses.replace(QUESTIONS[0], split="dev"), *QUESTIONS[1:], P1)
SPLIT_RANKINGS = {**RANKINGS, ("p1", "hybrid"): [MOSS_FIRST, BERGEN_FIRST]}
# n1 is answered cautiously although it should be refused; p1 is answered with low confidence
SPLIT_REPLIES = {
    **{qid: dataclasses.replace(r, confidence="high") for qid, r in REPLIES.items()},
    "n1": Reply(False, (cite("moss", "Moss kommune mener fastlegeordningen må styrkes."),), "low"),
    "p1": Reply(False, (cite("bergen", "Legevakten fungerer godt i dag."),), "low"),
}


@pytest.fixture
def split_result() -> EvalResult:
    backend = FakeBackend(questions=SPLIT_QUESTIONS, rankings=SPLIT_RANKINGS, replies=SPLIT_REPLIES)
    return run_eval(backend, SPLIT_QUESTIONS, modes=("hybrid", "bm25"))


def test_retrieval_is_summarised_per_split_and_for_all(split_result: EvalResult) -> None:
    assert list(split_result.retrieval) == ["dev", "test", "all"]
    assert list(split_result.retrieval["dev"]["hybrid"]) == ["factual", "overall"]
    test = split_result.retrieval["test"]["hybrid"]
    assert list(test) == ["aggregate", "paraphrase", "overall", "ui_examples"]
    assert test["paraphrase"].recall_at_1 == 0.0 and test["paraphrase"].recall_at_5 == 1.0
    assert test["ui_examples"].n == 1 and test["ui_examples"].mrr_at_10 == 0.5
    assert split_result.retrieval["all"]["hybrid"]["overall"].n == 3
    assert split_result.retrieval["dev"]["bm25"]["factual"].mrr_at_10 == 0.5


def test_answers_are_summarised_per_split_with_quote_hits_and_confidence(
    split_result: EvalResult,
) -> None:
    test = split_result.ask["test"]
    assert test["negative"].no_answer_rate == 0.0  # n1 was answered
    assert test["negative"].low_confidence_rate == 1.0
    assert test["answerable"].quote_hit_rate == 0.5  # a1 cites Moss's gold; p1 cites off-gold
    assert test["answerable"].low_confidence_rate == 0.5  # p1 low, a1 high
    assert test["answerable"].high_confidence_rate == 0.5
    assert test["ui_examples"].n == 1 and test["ui_examples"].no_answer_rate == 0.0
    assert split_result.ask["dev"]["factual"].high_confidence_rate == 1.0
    assert split_result.ask["all"]["overall"].n == 4


def test_the_gate_reads_the_test_split_only(split_result: EvalResult) -> None:
    headline = headline_metrics(split_result)
    assert headline["factual_recall_at_5"] is None  # the only factual question is in dev
    assert headline["paraphrase_recall_at_10"] == 1.0
    assert headline["negative_refusal_rate"] == 0.0
    assert headline["quote_hit_rate"] == 0.5
    assert headline["ui_example_refusal_rate"] == 0.0
    assert headline["negative_low_confidence_rate"] == 1.0
    assert headline["negative_high_confidence_rate"] == 0.0


def test_printed_tables_have_a_split_column(split_result: EvalResult) -> None:
    text = format_tables(split_result)
    assert "| split | retriever | kind | n |" in text
    assert "| dev | hybrid | factual | 1 | 1.000 |" in text
    assert "| test | hybrid | ui_examples | 1 | 0.000 | 1.000 |" in text
    assert "| split | kind | n | no-answer rate |" in text
    assert "| test | negative | 1 | 0.000 | 1 |" in text
