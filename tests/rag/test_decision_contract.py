"""The per-submitter decision (Service.submitter_decisions) on the hand-made corpus with the
fake embedder: the contract the matrix and the comparison rely on, whatever decides inside."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fakes import FakeEmbedder, fake_policy, write_fake_policy

from rag.errors import InvalidFilter, InvalidQuestion
from rag.policy import Thresholds
from rag.service import Service
from rag.store import read_manifest
from rag.types import Filters

if TYPE_CHECKING:
    from conftest import Corpus


@pytest.fixture
def service(corpus: Corpus) -> Service:
    corpus.build()
    # The fake embedder's cosines are low: thresholds scaled to its bag-of-words vectors.
    policy = fake_policy([e.identity for e in read_manifest(corpus.index_path).encoders])
    thresholds = Thresholds(
        low_confidence=0.0,
        high_confidence=1.01,
        submitter_threshold=0.3,
        corpus_gap=1.0,
        specific_gap=policy.thresholds.specific_gap,
    )
    write_fake_policy(corpus.index_path, policy.model_copy(update={"thresholds": thresholds}))
    return Service.load(corpus.settings, FakeEmbedder())


QUESTIONS = (
    "Hva sier innspillene om fastlegeordningen?",
    "Hva sier innspillene om legevakten i helgene?",
    "Hva sier innspillene om oppdrett av laks?",
)


def test_one_decision_per_document_in_scope_with_exact_quotes(service: Service) -> None:
    for question in QUESTIONS:
        decisions = service.submitter_decisions(question)
        assert sorted(d.document.document_id for d in decisions) == sorted(service.index.documents)
        for decision in decisions:
            assert (decision.confidence == "none") == (not decision.quotes)
            for quote in decision.quotes:
                assert quote.document_id == decision.document.document_id
                assert decision.document.text[quote.start : quote.end] == quote.quote


def test_many_questions_in_one_batch_decide_as_one_at_a_time(service: Service) -> None:
    batch = service.decisions_for_many(QUESTIONS)
    assert batch == [service.submitter_decisions(q) for q in QUESTIONS]


def test_filters_limit_the_scope_and_are_checked(service: Service) -> None:
    kommuner = service.submitter_decisions(QUESTIONS[0], Filters(submitter_type=("kommune",)))
    assert {d.document.submitter_type for d in kommuner} == {"kommune"}
    with pytest.raises(InvalidFilter):
        service.submitter_decisions(QUESTIONS[0], Filters(document_id=("finnes-ikke",)))
    with pytest.raises(InvalidQuestion):
        service.decisions_for_many(["legevakt", "  "])
