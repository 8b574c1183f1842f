"""The runner on a fake backend with hand-checked numbers."""

from __future__ import annotations

import pytest
from eval_fakes import QUESTIONS, FakeBackend

from eval.backends import EvalError
from eval.runner import run_eval, select_modes
from eval.summary import EvalResult
from rag.retrieve import MODES


def test_retrieval_tables_per_retriever_and_kind(tiny_result: EvalResult) -> None:
    assert list(tiny_result.retrieval) == ["test"]  # one split: no "all" rows
    hybrid = tiny_result.retrieval["test"]["hybrid"]
    assert list(hybrid) == ["factual", "aggregate", "overall"]  # no row for negatives
    assert hybrid["overall"].n == 2
    assert hybrid["overall"].mrr_at_10 == 1.0
    assert hybrid["aggregate"].recall_at_1 == 0.5
    assert hybrid["aggregate"].recall_at_5 == 1.0
    bm25 = tiny_result.retrieval["test"]["bm25"]
    assert bm25["factual"].mrr_at_10 == 0.5
    assert bm25["aggregate"].recall_at_10 == 0.5  # Bergen found, Moss not
    assert bm25["overall"].mrr_at_10 == pytest.approx((0.5 + 0.5) / 2)
    assert tiny_result.retrieval["test"]["dense"]["overall"].recall_at_10 == 0.0


def test_ask_table_scores_coverage_precision_exactness(tiny_result: EvalResult) -> None:
    ask = tiny_result.ask["test"]
    assert ask["aggregate"].submitter_coverage == 1.0  # Moss and Bergen both cited
    assert ask["aggregate"].submitter_precision == 1.0
    assert ask["negative"].no_answer_rate == 1.0
    assert ask["answerable"].no_answer_rate == 0.0
    assert ask["overall"].citations == 4
    assert ask["overall"].citation_exactness == 0.75  # one citation's offsets are wrong
    # f1: 1 of 1 on gold; a1: Moss on gold, the two Legevakt citations not -> 2 of 4
    assert ask["answerable"].citation_precision == 0.5
    assert ask["answerable"].quote_hit_rate == 1.0  # both cite some gold quote
    assert ask["overall"].low_confidence_rate is None  # the fake API reports no confidence


def test_rows_name_first_hit_ranks(tiny_result: EvalResult) -> None:
    ranks = {(r.id, r.mode): r.first_hit_rank for r in tiny_result.retrieval_rows}
    assert ranks[("f1", "bm25")] == 2
    assert ranks[("f1", "dense")] is None
    assert ranks[("n1", "hybrid")] is None


def test_latency_per_endpoint_and_gold_located(tiny_result: EvalResult) -> None:
    assert set(tiny_result.latency) == {*(f"search[{m}]" for m in MODES), "ask"}
    assert tiny_result.latency["ask"].n == 3
    assert tiny_result.gold_located == {"whitespace": 3}


def test_each_pass_starts_from_a_fresh_backend(fake_backend: FakeBackend) -> None:
    run_eval(fake_backend, QUESTIONS)
    assert fake_backend.fresh_calls == len(MODES) + 1  # every retriever and /ask


def test_only_requested_retrievers_run(fake_backend: FakeBackend) -> None:
    result = run_eval(fake_backend, QUESTIONS, modes=("bm25",), ask=False)
    assert list(result.retrieval["test"]) == ["bm25"]
    assert result.ask == {}
    assert {mode for _, mode in fake_backend.searched} == {"bm25"}


def test_retrievers_the_backend_lacks_are_named_in_a_note() -> None:
    result = run_eval(FakeBackend(modes=("hybrid",)), QUESTIONS)
    assert list(result.retrieval["test"]) == ["hybrid"]
    assert any("dense, sentence, bm25: only available in-process" in n for n in result.notes)


def test_asking_only_for_missing_retrievers_is_an_error() -> None:
    with pytest.raises(EvalError, match="only available in-process"):
        select_modes(["bm25"], ["hybrid"])
