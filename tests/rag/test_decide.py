"""The relevance decision on hand-built evidence: confidence, who answers, which quotes."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from rag.config import AnswerSettings
from rag.decide import Decision, citation, confidence_of, decide
from rag.policy import Policy
from rag.query import Query
from rag.types import Citation, Document, Evidence, Section, Sentence

if TYPE_CHECKING:
    from conftest import Builders

SETTINGS = AnswerSettings(quote_gap=0.02, max_sentences_per_submitter=2)
QUESTION = "Hva sier de om fastlegeordningen?"
BERGEN = (
    "Fastlegeordningen er under sterkt press i Bergen, og mange innbyggere står uten fastlege.",
    "Kommunen foreslår f.eks. flere faste stillinger for fastleger.",
    "Rekruttering av fastleger må prioriteres nasjonalt.",
)
MOSS = (
    "Fastlegene i Moss har for mange pasienter på listene sine.",
    "Fastlegeordningen bør finansieres bedre av staten.",
)
MORE = ("Den offentlige tannhelsetjenesten trenger flere tannleger i distriktene.",)


def tuned(**changes: object) -> AnswerSettings:
    return AnswerSettings.model_validate({**SETTINGS.model_dump(), **changes})


def decided(
    make: Builders,
    query: Query,
    found: Evidence,
    policy: Policy | None = None,
    settings: AnswerSettings = SETTINGS,
) -> Decision:
    """The decision under the hand-built evidence's policy (default thresholds unless given)."""
    return decide(query, found, policy or make.policy(), settings)


def evidence(
    make: Builders, documents: dict[str, Document], bergen: float, moss: float, more: float
) -> Evidence:
    """Each document's best sentence at the given score, the others 0.01 below each other."""
    found = [
        make.found_in(documents[d], *((t, best - 0.01 * i) for i, t in enumerate(texts)))
        for d, texts, best in (
            ("bergen", BERGEN, bergen),
            ("moss", MOSS, moss),
            ("more", MORE, more),
        )
    ]
    return make.evidence(found)


def sentence_in(document: Document, text: str) -> Sentence:
    start = document.text.index(text)
    return Sentence(document.document_id, start, start + len(text), ())


def answering(decision: Decision) -> list[str]:
    return [s.document.document_id for s in decision.quoted]


def assert_consistent(decision: Decision, evidence: Evidence) -> None:
    """What every decision promises, whatever the evidence."""
    assert {s.document.document_id for s in decision.submitters} == {
        d.document.document_id for d in evidence.documents
    }
    scores = [s.score for s in decision.submitters]
    assert scores == sorted(scores, reverse=True)  # closest document first
    numbers = [q.n for s in decision.quoted for q in s.quotes]
    assert numbers == list(range(1, len(numbers) + 1))  # consecutive, closest document first
    for row in decision.submitters:
        assert (row.confidence == "none") == (not row.quotes)
        for q in row.quotes:
            assert q.quote == row.document.text[q.start : q.end] and q.quote
            assert q.document_id == row.document.document_id
    assert (decision.confidence == "none") == (not decision.quoted)


@pytest.mark.parametrize(
    ("best", "confidence"),
    [(0.3, "none"), (0.4999, "none"), (0.5, "low"), (0.6999, "low"), (0.7, "high"), (0.95, "high")],
)
def test_confidence_thresholds(
    make: Builders, documents: dict[str, Document], best: float, confidence: str
) -> None:
    assert confidence_of(best, make.policy()) == confidence
    found = evidence(make, documents, bergen=best, moss=best - 0.2, more=best - 0.3)
    decision = decided(make, make.query(QUESTION), found)
    assert decision.confidence == confidence
    assert_consistent(decision, found)
    if confidence == "none":
        assert decision.quoted == ()
        assert all(s.confidence == "none" and not s.quotes for s in decision.submitters)
    else:
        assert answering(decision) == ["bergen"]
        assert decision.submitters[0].confidence == confidence


@pytest.mark.parametrize(("support", "confidence"), [(0.45, "none"), (0.6, "low"), (0.8, "high")])
def test_support_decides_whether_not_the_closest_sentence(
    make: Builders, documents: dict[str, Document], support: float, confidence: str
) -> None:
    """A close sentence (0.9) does not make a question answered when the corpus as a whole
    gives it little support (a stray sentence); who is quoted still follows the sentences."""
    found = make.evidence(
        [
            make.found_in(documents["bergen"], (BERGEN[0], 0.9), (BERGEN[1], 0.89)),
            make.found_in(documents["moss"], (MOSS[0], 0.3)),
            make.found_in(documents["more"], (MORE[0], 0.2)),
        ],
        support=support,
    )
    decision = decided(make, make.query(QUESTION), found)
    assert decision.support == pytest.approx(support)
    assert decision.confidence == confidence
    assert answering(decision) == ([] if confidence == "none" else ["bergen"])
    assert_consistent(decision, found)


def test_a_submitter_is_sure_when_its_own_support_is(
    make: Builders, documents: dict[str, Document]
) -> None:
    bergen = make.found_in(documents["bergen"], (BERGEN[0], 0.9), support=0.6)
    moss = make.found_in(documents["moss"], (MOSS[0], 0.88), support=0.75)
    found = make.evidence((bergen, moss))
    decision = decided(make, make.query(QUESTION), found)
    assert decision.confidence == "high"  # the corpus's support is its best document's
    assert [(s.document.document_id, s.confidence) for s in decision.quoted] == [
        ("bergen", "low"),
        ("moss", "high"),
    ]


@pytest.mark.parametrize(
    ("sure_submitter", "expected"),
    [(None, ["low", "high"]), (0.55, ["high", "high"]), (0.8, ["low", "low"])],
)
def test_the_sure_bar_of_the_policy_decides_which_quoted_submitters_are_sure(
    make: Builders,
    documents: dict[str, Document],
    sure_submitter: float | None,
    expected: list[str],
) -> None:
    """Under the sure bar a quoted submitter is «usikkert»; without one, high_confidence is it."""
    bergen = make.found_in(documents["bergen"], (BERGEN[0], 0.9), support=0.6)
    moss = make.found_in(documents["moss"], (MOSS[0], 0.88), support=0.75)
    policy = make.policy()
    rule = policy.model_copy(
        update={
            "thresholds": policy.thresholds.model_copy(update={"sure_submitter": sure_submitter})
        }
    )
    decision = decided(make, make.query(QUESTION), make.evidence((bergen, moss)), rule)
    assert decision.confidence == "high"  # the answer's confidence keeps its own bar
    assert [s.confidence for s in decision.quoted] == expected


def test_no_evidence_is_no_answer(make: Builders, documents: dict[str, Document]) -> None:
    empty = make.evidence(make.found_in(d) for d in documents.values())
    decision = decided(make, make.query(QUESTION), empty)
    assert decision.confidence == "none" and decision.quoted == ()
    assert [s.score for s in decision.submitters] == [-1.0] * 3
    assert_consistent(decision, empty)


def test_a_named_submitter_is_answered_from_its_own_document_only(
    make: Builders, documents: dict[str, Document]
) -> None:
    found = evidence(make, documents, bergen=0.9, moss=0.8, more=0.89)
    decision = decided(make, make.query(QUESTION, named=frozenset({"moss"})), found)
    assert answering(decision) == ["moss"]
    assert {q.document_id for s in decision.quoted for q in s.quotes} == {"moss"}
    assert decision.confidence == "high"  # the corpus answers; Moss is the one asked about
    assert_consistent(decision, found)
    both = decided(make, make.query(QUESTION, named=frozenset({"moss", "more"})), found)
    assert answering(both) == ["more", "moss"]


def test_a_named_submitter_that_does_not_discuss_it_is_not_quoted(
    make: Builders, documents: dict[str, Document]
) -> None:
    found = evidence(make, documents, bergen=0.9, moss=0.88, more=0.3)
    decision = decided(make, make.query(QUESTION, named=frozenset({"more"})), found)
    assert "more" not in answering(decision)
    assert answering(decision) == ["bergen", "moss"]


def test_corpus_wide_keeps_every_document_over_the_submitter_threshold(
    make: Builders, documents: dict[str, Document]
) -> None:
    # Moss is far below Bergen (more than specific_gap) but over submitter_threshold
    found = evidence(make, documents, bergen=0.9, moss=0.6, more=0.5499)
    decision = decided(make, make.query(QUESTION, corpus_wide=True), found)
    assert answering(decision) == ["bergen", "moss"]
    assert [s.confidence for s in decision.submitters] == ["high", "low", "none"]
    assert_consistent(decision, found)
    specific = decided(make, make.query(QUESTION), found)
    assert answering(specific) == ["bergen"]


def test_a_document_over_the_submitter_threshold_below_low_confidence_is_counted(
    make: Builders, documents: dict[str, Document]
) -> None:
    policy = make.policy(low_confidence=0.86, high_confidence=0.88, submitter_threshold=0.85)
    found = evidence(make, documents, bergen=0.9, moss=0.855, more=0.5)
    decision = decided(make, make.query(QUESTION, corpus_wide=True), found, policy)
    assert_consistent(decision, found)
    assert answering(decision) == ["bergen", "moss"]


def test_corpus_gap_drops_documents_far_below_the_closest(
    make: Builders, documents: dict[str, Document]
) -> None:
    found = evidence(make, documents, bergen=0.9, moss=0.86, more=0.8)
    query = make.query(QUESTION, corpus_wide=True)
    for gap, expected in ((0.05, ["bergen", "moss"]), (0.03, ["bergen"])):
        assert answering(decided(make, query, found, make.policy(corpus_gap=gap))) == expected
    everyone = decided(make, query, found, make.policy(corpus_gap=1.0))
    assert answering(everyone) == ["bergen", "moss", "more"]


def test_a_specific_question_keeps_those_within_the_gap(
    make: Builders, documents: dict[str, Document]
) -> None:
    found = evidence(make, documents, bergen=0.9, moss=0.851, more=0.849)
    decision = decided(make, make.query(QUESTION), found)
    assert answering(decision) == ["bergen", "moss"]
    assert_consistent(decision, found)
    wider = decided(make, make.query(QUESTION), found, make.policy(specific_gap=0.06))
    assert answering(wider) == ["bergen", "moss", "more"]
    narrow = decided(make, make.query(QUESTION), found, make.policy(specific_gap=0.0))
    assert answering(narrow) == ["bergen"]


def test_the_closest_document_answers_even_under_the_submitter_threshold(
    make: Builders, documents: dict[str, Document]
) -> None:
    policy = make.policy(submitter_threshold=0.8)  # above low_confidence
    found = evidence(make, documents, bergen=0.6, moss=0.59, more=0.58)
    for query in (make.query(QUESTION), make.query(QUESTION, corpus_wide=True)):
        decision = decided(make, query, found, policy)
        assert decision.confidence == "low"
        assert answering(decision) == ["bergen"]
        assert_consistent(decision, found)


def test_quotes_are_the_close_sentences_best_first_and_capped(
    make: Builders, documents: dict[str, Document]
) -> None:
    bergen = documents["bergen"]
    found = make.evidence(
        (make.found_in(bergen, (BERGEN[2], 0.9), (BERGEN[0], 0.89), (BERGEN[1], 0.881)),)
    )
    query = make.query(QUESTION)
    decision = decided(make, query, found)  # quote_gap 0.02, cap 2
    assert [q.quote for q in decision.quoted[0].quotes] == [BERGEN[2], BERGEN[0]]
    assert [q.score for q in decision.quoted[0].quotes] == [0.9, 0.89]
    roomy = decided(make, query, found, settings=tuned(max_sentences_per_submitter=5))
    assert [q.quote for q in roomy.quoted[0].quotes] == [BERGEN[2], BERGEN[0], BERGEN[1]]
    tight = decided(make, query, found, settings=tuned(quote_gap=0.015))
    assert [q.quote for q in tight.quoted[0].quotes] == [BERGEN[2], BERGEN[0]]
    tightest = decided(make, query, found, settings=tuned(quote_gap=0.0))
    assert [q.quote for q in tightest.quoted[0].quotes] == [BERGEN[2]]


def test_quotes_are_numbered_consecutively_closest_document_first(
    make: Builders, documents: dict[str, Document]
) -> None:
    found = evidence(make, documents, bergen=0.9, moss=0.91, more=0.3)
    decision = decided(make, make.query(QUESTION), found)
    quotes = [(q.n, q.document_id) for s in decision.quoted for q in s.quotes]
    assert quotes == [(1, "moss"), (2, "moss"), (3, "bergen"), (4, "bergen")]
    assert_consistent(decision, found)


def test_an_inexact_quote_is_dropped_logged_and_the_rest_renumbered(
    make: Builders,
    documents: dict[str, Document],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shifted_start = documents["bergen"].text.index(BERGEN[0])

    def shifted(n: int, doc: Document, sentence: Sentence, score: float) -> Citation:
        made = citation(n, doc, sentence, score)
        return replace(made, start=made.start + 1) if made.start == shifted_start else made

    monkeypatch.setattr("rag.decide.citation", shifted)
    found = evidence(make, documents, bergen=0.92, moss=0.9, more=0.3)
    with caplog.at_level(logging.ERROR, logger="rag.decide"):
        decision = decided(make, make.query(QUESTION), found)
    assert f"dropping quote bergen[{shifted_start + 1}:" in caplog.text
    quotes = [(q.n, q.quote) for s in decision.quoted for q in s.quotes]
    assert quotes == [(1, BERGEN[1]), (2, MOSS[0]), (3, MOSS[1])]
    assert_consistent(decision, found)


def test_a_document_whose_only_quote_is_empty_does_not_answer(
    make: Builders, documents: dict[str, Document], caplog: pytest.LogCaptureFixture
) -> None:
    bergen = documents["bergen"]
    good = make.found_in(bergen, (BERGEN[0], 0.9))
    empty = replace(good, sentences=((Sentence("bergen", 0, 0, ()), 0.9),))
    found = make.evidence((empty,))
    with caplog.at_level(logging.ERROR, logger="rag.decide"):
        decision = decided(make, make.query(QUESTION), found)
    assert "dropping quote bergen[0:0]" in caplog.text
    assert decision.confidence == "none" and decision.quoted == ()
    assert_consistent(decision, found)


def test_a_citation_names_its_section_and_page(
    make: Builders, documents: dict[str, Document]
) -> None:
    text = "Forord her.\nInnledning\nFørste avsnitt.\nTiltak\nAndre avsnitt om tiltak."
    heads = [text.index("Innledning"), text.index("Tiltak")]
    doc = replace(
        documents["more"],
        text=text,
        sections=(Section(heads[0], "Innledning"), Section(heads[1], "Tiltak")),
        page_starts=(0, *heads),
    )
    late = citation(3, doc, sentence_in(doc, "Andre avsnitt om tiltak."), 0.123456)
    assert (late.n, late.section, late.page, late.score) == (3, "Tiltak", 3, 0.1235)
    assert (late.document_id, late.submitter_type, late.source) == (
        "more",
        "fylkeskommune",
        "more.txt",
    )
    assert late.quote == text[late.start : late.end] == "Andre avsnitt om tiltak."
    early = citation(1, doc, sentence_in(doc, "Forord her."), 0.5)
    assert (early.section, early.page) == (None, 1)
    bergen = documents["bergen"]
    unpaged = citation(1, bergen, sentence_in(bergen, "Legevakten i Bergen"), 0.5)
    assert (unpaged.section, unpaged.page) == ("Legevakt", None)


def test_every_document_in_scope_gets_a_decision(
    make: Builders, documents: dict[str, Document]
) -> None:
    found = evidence(make, documents, bergen=0.9, moss=0.2, more=0.1)
    found = make.evidence(
        [
            make.found_in(documents["bergen"], (BERGEN[0], 0.9)),
            make.found_in(documents["moss"], (MOSS[0], 0.2)),
            make.found_in(documents["more"], (MORE[0], 0.1)),
            make.found_in(replace(documents["more"], document_id="x")),
        ]
    )
    decision = decided(make, make.query(QUESTION), found)
    assert [(s.document.document_id, s.confidence) for s in decision.submitters] == [
        ("bergen", "high"),
        ("moss", "none"),
        ("more", "none"),
        ("x", "none"),
    ]
    assert [s.score for s in decision.submitters] == [0.9, 0.2, 0.1, -1.0]
    assert_consistent(decision, found)
