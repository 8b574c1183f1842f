"""Content words of questions and passages, how they match, and IDF-weighted overlap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.lexical import (
    SHARED_PREFIX,
    Term,
    WordSet,
    content_terms,
    hits,
    matches,
    overlaps,
    weighted_overlap,
)


def words(text: str, query: bool = False) -> list[str]:
    return [t.word for t in content_terms(text, query)]


def term(word: str) -> Term:
    (found,) = content_terms(word)
    return found


def test_stopwords_are_dropped_and_words_lower_cased() -> None:
    assert words("Det er viktig at KOMMUNENE og fastlegen samarbeider") == [
        "viktig",
        "kommunene",
        "fastlegen",
        "samarbeider",
    ]
    assert words("og det er i på som for med at til") == []


def test_question_phrasing_is_dropped_from_questions_only() -> None:
    question = "Hva sier innspillene om fastlegeordningen, og hva foreslår de?"
    assert words(question, query=True) == ["fastlegeordningen"]
    assert words(question) == ["sier", "innspillene", "fastlegeordningen", "foreslår"]


def test_each_word_carries_its_stem() -> None:
    assert [t.stem for t in content_terms("legevakten legevakt kommunene kommune")] == [
        "legevakt",
        "legevakt",
        "kommun",
        "kommun",
    ]


@pytest.mark.parametrize(
    ("word", "other"),
    [
        ("kommunene", "kommunen"),  # the same stem
        ("legene", "leger"),  # the same stem, no shared six letters
        ("kommunale", "kommunene"),  # «kommun»: six letters, the stems «kommunal», «kommun»
        ("ventetiden", "ventetid"),
        ("fastlegeordningen", "fastlegene"),  # «fastle»: the stems «fastlegeordning», «fast»
        ("fastlegene", "fastlegeordningen"),
        ("sykepleiere", "sykepleien"),
    ],
)
def test_words_match_on_stem_or_a_shared_six_letter_prefix(word: str, other: str) -> None:
    assert matches(term(word), [term("tannhelse"), term(other)])


@pytest.mark.parametrize(
    ("word", "other"),
    [
        ("vakt", "vaktmester"),  # a short word is no prefix of a longer one
        ("legen", "legevakten"),
        ("sykehus", "sykehjem"),  # five shared letters are not enough
        ("fastlegene", "tannhelse"),
    ],
)
def test_words_do_not_match_otherwise(word: str, other: str) -> None:
    assert not matches(term(word), [term(other)])
    assert not matches(term(word), [])


LETTERS = st.text(alphabet="aekrstlgnø", min_size=1, max_size=9)
TERMS = st.builds(Term, LETTERS, LETTERS)


@given(TERMS, st.lists(TERMS, max_size=6))
def test_the_word_set_looks_up_what_the_definition_compares(term: Term, others: list[Term]) -> None:
    prefix = term.word[:SHARED_PREFIX]
    compared = any(
        o.stem == term.stem or (len(prefix) == SHARED_PREFIX and o.word.startswith(prefix))
        for o in others
    )
    assert hits(term, [WordSet.of(others)]) == [compared]


QUESTION = content_terms("Hva sier de om fastlegeordningen, legevakten og tannhelse?", query=True)
WEIGHTS = {"fastlegeordning": 3.0, "legevakt": 1.0, "tannh": 0.0}


def test_the_question_terms_are_the_weighted_stems() -> None:
    assert [t.stem for t in QUESTION] == list(WEIGHTS)


@pytest.mark.parametrize(
    ("text", "overlap"),
    [
        ("Fastlegene og legevakten har for mye å gjøre.", 1.0),
        ("Legevakten har lange ventetider.", 0.25),
        ("Fastlegeordningen må styrkes.", 0.75),
        ("Tannhelse er viktig for eldre.", 0.0),  # a word of no weight adds nothing
        ("Ingen av ordene her.", 0.0),
    ],
)
def test_overlap_is_the_idf_weighted_share_of_question_words(text: str, overlap: float) -> None:
    assert weighted_overlap(QUESTION, WEIGHTS, text) == pytest.approx(overlap)


def test_overlap_without_weights_is_zero() -> None:
    text = "Fastlegeordningen, legevakten og tannhelse."
    assert weighted_overlap(QUESTION, dict.fromkeys(WEIGHTS, 0.0), text) == 0.0
    assert weighted_overlap(QUESTION, {}, text) == 0.0
    assert weighted_overlap([], WEIGHTS, text) == 0.0
    assert weighted_overlap(QUESTION, {**WEIGHTS, "kommun": 5.0}, text) == 1.0  # only its words


def test_overlaps_of_many_texts_are_each_texts_overlap() -> None:
    texts = ["Fastlegeordningen og legevakten.", "Tannhelse for alle.", "", "Legevakt i natt."]
    sets = [WordSet.of(content_terms(t)) for t in texts]
    one_by_one = [weighted_overlap(QUESTION, WEIGHTS, t) for t in texts]
    assert overlaps(QUESTION, WEIGHTS, sets).tolist() == one_by_one
    assert one_by_one[0] == pytest.approx(1.0) and one_by_one[1] == 0.0
