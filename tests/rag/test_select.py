"""Whether a question is answered, which submitters it names, and which submitters answer it."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from rag.config import AnswerSettings
from rag.lexical import content_terms
from rag.select import (
    SubmitterGroup,
    asks_whole_corpus,
    best_similarity,
    group_by_document,
    is_answerable,
    mentioned_documents,
    select_groups,
)
from rag.types import Document

if TYPE_CHECKING:
    from conftest import HitFactory

SETTINGS = AnswerSettings(
    min_relevance=0.8,
    confident_relevance=0.9,
    min_term_coverage=0.5,
    submitter_relevance=0.83,
    submitter_overlap=0.2,
    specific_similarity_gap=0.02,
    specific_overlap_gap=0.5,
)


@pytest.mark.parametrize(
    ("similarity", "coverage", "answerable"),
    [
        (0.95, 0.0, True),  # very close: whatever the coverage
        (0.9, 0.0, True),
        (0.89, 0.5, True),  # close and the corpus knows enough of the words
        (0.8, 0.5, True),
        (0.89, 0.49, False),
        (0.8, 0.0, False),
        (0.79, 1.0, False),  # not close enough, however well covered
        (0.0, 1.0, False),
    ],
)
def test_is_answerable(similarity: float, coverage: float, answerable: bool) -> None:
    assert is_answerable(similarity, coverage, SETTINGS) is answerable


# --- named submitters and corpus-wide questions --------------------------------------------


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("Hva mener Bergen om fastlegeordningen?", {"bergen"}),
        ("hva mener BERGEN KOMMUNE om legevakt", {"bergen"}),
        ("Hva sier Bergen og Moss om legevakt?", {"bergen", "moss"}),
        ("Hva sier Møre og Romsdal om tannhelse?", {"more"}),
        ("Hva sier Romsdal om tannhelse?", set()),  # every name word is needed
        ("Hva sier kommune om legevakt?", set()),  # generic words name nobody
        ("Hva sier fylkeskommune og kommunene om tannhelse?", set()),
        ("Hva sier Bergenhus om legevakt?", set()),  # whole words only
    ],
)
def test_mentioned_documents(
    documents: dict[str, Document], question: str, named: set[str]
) -> None:
    assert mentioned_documents(question, list(documents.values())) == named


def test_generic_words_in_a_name_are_not_needed(documents: dict[str, Document]) -> None:
    generic = replace(documents["moss"], document_id="hf", submitter="Helsefellesskapet")
    ahus = replace(
        documents["moss"], document_id="ahus", submitter="Helsefellesskapet for Ahus og kommunene"
    )
    found = [*documents.values(), generic, ahus]
    assert mentioned_documents("Hva sier helsefellesskapet om legevakt?", found) == set()
    assert mentioned_documents("Hva mener Ahus om legevakt?", found) == {"ahus"}


@pytest.mark.parametrize(
    ("question", "whole"),
    [
        ("Hva sier kommunene om fastlegeordningen?", True),
        ("Hvordan beskriver innspillene legevakten?", True),
        ("Hvem nevner tannhelse?", True),
        ("Hva mener Bergen om legevakt?", False),
        ("Hva er ventetiden for tannbehandling?", False),
    ],
)
def test_asks_whole_corpus(question: str, whole: bool) -> None:
    assert asks_whole_corpus(question) is whole


# --- selecting submitters ------------------------------------------------------------------


def group(doc: Document, similarity: float, overlap: float) -> SubmitterGroup:
    return SubmitterGroup(doc, (), similarity, overlap)


def ids(groups: list[SubmitterGroup]) -> list[str]:
    return [g.document.document_id for g in groups]


def test_a_named_submitter_alone_answers(documents: dict[str, Document]) -> None:
    groups = [
        group(documents["moss"], 0.95, 0.9),
        group(documents["bergen"], 0.85, 0.3),
        group(documents["more"], 0.9, 0.9),
    ]
    assert ids(select_groups("Hva mener Bergen om legevakt?", groups, SETTINGS)) == ["bergen"]
    both = "Hva mener Bergen og Møre og Romsdal om legevakt?"
    assert ids(select_groups(both, groups, SETTINGS)) == ["bergen", "more"]


def test_a_named_submitter_without_a_relevant_passage_does_not_restrict(
    documents: dict[str, Document],
) -> None:
    groups = [group(documents["moss"], 0.95, 0.9), group(documents["bergen"], 0.82, 0.9)]
    assert ids(select_groups("Hva mener Bergen om legevakt?", groups, SETTINGS)) == ["moss"]
    both = "Hva mener Bergen og Moss om legevakt?"
    assert ids(select_groups(both, groups, SETTINGS)) == ["moss"]


def test_a_corpus_wide_question_keeps_every_relevant_submitter(
    documents: dict[str, Document],
) -> None:
    groups = [
        group(documents["moss"], 0.95, 0.9),
        group(documents["bergen"], 0.84, 0.21),  # far behind, but past both bars
        group(documents["more"], 0.95, 0.19),  # too few of the question's words
    ]
    question = "Hva sier kommunene om legevakt?"
    assert ids(select_groups(question, groups, SETTINGS)) == ["moss", "bergen"]
    groups[0] = group(documents["moss"], 0.82, 0.9)  # not close enough
    assert ids(select_groups(question, groups, SETTINGS)) == ["bergen"]


def test_a_specific_question_keeps_the_submitters_near_the_top(
    documents: dict[str, Document],
) -> None:
    near, behind, few_words = (
        replace(documents["bergen"], document_id=i, submitter=f"{i} kommune")
        for i in ("near", "behind", "few")
    )
    groups = [
        group(documents["moss"], 0.90, 0.9),
        group(near, 0.885, 0.45),  # within both gaps of the best
        group(behind, 0.875, 0.9),  # more than 0.02 below the closest
        group(few_words, 0.90, 0.35),  # more than 0.5 below the most overlap
        group(documents["more"], 0.95, 0.1),  # not relevant: does not set the bar
    ]
    question = "Hva er ventetiden på legevakten?"
    assert ids(select_groups(question, groups, SETTINGS)) == ["moss", "near"]
    assert select_groups(question, groups[-1:], SETTINGS) == []


# --- grouping hits -------------------------------------------------------------------------


def test_group_by_document(documents: dict[str, Document], hit: HitFactory) -> None:
    bergen, moss = documents["bergen"], documents["moss"]
    hits = [
        hit(moss, "Samarbeidsavtalene med sykehuset", 0.80),
        hit(bergen, "Vi trenger flere sykepleiere på legevakten", 0.85),
        hit(moss, "Fastlegene i Moss har for mange pasienter", None),
        hit(bergen, "Legevakten i Bergen har lange ventetider om natten.", 0.88),
    ]
    terms = content_terms("Hva sier de om ventetider på legevakten?", query=True)
    weights = {"ventetid": 3.0, "legevakt": 1.0}
    groups = group_by_document(hits, documents, terms, weights)
    assert ids(groups) == ["moss", "bergen"]  # first appearance
    assert [g.hits for g in groups] == [(hits[0], hits[2]), (hits[1], hits[3])]
    assert [g.document for g in groups] == [moss, bergen]
    assert [g.best_similarity for g in groups] == [0.80, 0.88]
    assert [g.overlap for g in groups] == [0.0, 1.0]  # the best share of the words in any hit


def test_best_similarity_ignores_hits_without_one(
    documents: dict[str, Document], hit: HitFactory
) -> None:
    assert best_similarity([hit(documents["moss"], "Moss", None)]) == 0.0
    assert best_similarity([]) == 0.0
