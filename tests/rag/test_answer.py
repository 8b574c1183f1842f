"""Extractive answers: sentence spans, citation checks, sentence choice, lead line, compose."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from itertools import pairwise
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.answer import (
    NO_ANSWER_TEXT,
    Candidate,
    Span,
    candidates_for,
    compose,
    lead_line,
    make_citation,
    pick_sentences,
    quote_is_exact,
    sentence_spans,
    topic_of,
    without_markers,
)
from rag.config import AnswerSettings
from rag.lexical import content_terms
from rag.select import Evidence
from rag.types import Citation, Document, Hit, Section

if TYPE_CHECKING:
    from conftest import HitFactory

MARKER = re.compile(r"\[(\d+)\]")
FASTLEGE = "Hva sier kommunene om fastlegeordningen?"
FASTLEGE_EVIDENCE = Evidence(coverage=1.0, weights={"kommun": 0.1, "fastlegeordning": 2.0})


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in sentence_spans(text, 0, len(text))]


# --- sentence spans ------------------------------------------------------------------------


def test_sentences_split_at_ends_but_not_at_abbreviations_before_lowercase() -> None:
    text = (
        "Vi mener f.eks. at fastlegene må få bedre tid. Dette gjelder bl.a. distriktene! "
        "Hvorfor? «Tiden er knapp.» 3 av 4 leger sier det."
    )
    assert sentences(text) == [
        "Vi mener f.eks. at fastlegene må få bedre tid.",
        "Dette gjelder bl.a. distriktene!",
        "Hvorfor?",
        "«Tiden er knapp.»",
        "3 av 4 leger sier det.",
    ]


def test_list_items_and_lines_are_sentences_without_the_list_mark() -> None:
    text = "Vi foreslår:\n- Flere fastleger i distriktene\n-  Kortere ventetid  \n\nSlutt."
    expected = ["Vi foreslår:", "Flere fastleger i distriktene", "Kortere ventetid", "Slutt."]
    assert sentences(text) == expected


def test_spans_are_offsets_into_the_whole_text_within_the_range() -> None:
    text = "Overskrift\n  Første setning her.  Andre setning her. Utenfor."
    start, end = text.index("  Første"), text.index(" Utenfor")
    spans = list(sentence_spans(text, start, end))
    assert [text[s.start : s.end] for s in spans] == ["Første setning her.", "Andre setning her."]
    assert all(start <= s.start < s.end <= end for s in spans)


@given(st.text(alphabet="ab .!?\n-«»()ÆA1", max_size=60), st.data())
def test_spans_are_stripped_ordered_and_inside_the_range(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    spans = list(sentence_spans(text, start, end))
    for span in spans:
        piece = text[span.start : span.end]
        assert start <= span.start < span.end <= end
        assert piece == piece.strip() and not piece.startswith("- ")
    assert all(a.end <= b.start for a, b in pairwise(spans))


# --- citations -----------------------------------------------------------------------------


def candidate(doc: Document, sentence: str, score: float = 1.0, overlap: float = 0.5) -> Candidate:
    start = doc.text.index(sentence)
    return Candidate(doc, Span(start, start + len(sentence)), score, overlap)


@pytest.mark.parametrize("change", ["none", "quote", "offsets", "document", "empty"])
def test_only_an_exact_quote_passes_and_others_are_logged(
    documents: dict[str, Document], caplog: pytest.LogCaptureFixture, change: str
) -> None:
    good = make_citation(7, candidate(documents["moss"], "Fastlegene i Moss"))
    citation = {
        "none": good,
        "quote": replace(good, quote="Fastlegene i Bergen"),
        "offsets": replace(good, start=good.start + 1),
        "document": replace(good, document_id="bergen"),
        "empty": replace(good, quote="", end=good.start),
    }[change]
    with caplog.at_level(logging.ERROR, logger="rag.answer"):
        assert quote_is_exact(citation, documents) is (change == "none")
    assert ("dropping citation 7" in caplog.text) is (change != "none")


def test_a_citation_names_its_section_and_page(documents: dict[str, Document]) -> None:
    text = "Forord her.\nInnledning\nFørste avsnitt.\nTiltak\nAndre avsnitt om tiltak."
    heads = [text.index("Innledning"), text.index("Tiltak")]
    doc = replace(
        documents["more"],
        text=text,
        sections=(Section(heads[0], "Innledning"), Section(heads[1], "Tiltak")),
        page_starts=(0, *heads),
    )
    late = make_citation(3, candidate(doc, "Andre avsnitt om tiltak.", score=0.123456))
    assert (late.n, late.section, late.page, late.score) == (3, "Tiltak", 3, 0.1235)
    assert (late.document_id, late.submitter_type, late.source) == (
        "more",
        "fylkeskommune",
        "more.txt",
    )
    assert late.quote == text[late.start : late.end] == "Andre avsnitt om tiltak."
    early = make_citation(1, candidate(doc, "Forord her."))
    assert (early.section, early.page) == (None, 1)
    unpaged = make_citation(1, candidate(documents["bergen"], "Legevakten i Bergen"))
    assert (unpaged.section, unpaged.page) == ("Legevakt", None)


# --- choosing sentences --------------------------------------------------------------------


def test_pick_sentences_keeps_the_best_and_only_close_followers(
    documents: dict[str, Document],
) -> None:
    doc = documents["bergen"]
    overlaps = [0.8, 0.3, 0.5, 0.0, 0.4, 0.45]
    found = [Candidate(doc, Span(i, i + 1), 1 - i / 10, o) for i, o in enumerate(overlaps)]
    assert [c.overlap for c in pick_sentences(found, 3)] == [0.8, 0.5, 0.4]
    assert [c.overlap for c in pick_sentences(found, 10)] == [0.8, 0.5, 0.4, 0.45]
    assert pick_sentences(found, 1) == [found[0]]
    assert pick_sentences([], 3) == []
    no_words = [Candidate(doc, Span(i, i + 1), 1.0, 0.0) for i in range(3)]
    assert pick_sentences(no_words, 3) == [no_words[0]]  # followers need some overlap


def test_candidates_skip_headings_short_sentences_and_repeats(
    documents: dict[str, Document], hit: HitFactory
) -> None:
    text = (
        "Rekruttering og stabilisering av fastleger\n"
        "Fastlegeordningen må styrkes i hele landet. Kort setning her.\n"
        "Legevakten fungerer godt i dag for de fleste. "
        "Fastlegeordningen må styrkes i hele landet."
    )
    doc = replace(documents["bergen"], text=text, sections=(Section(0, text.split("\n")[0]),))
    terms = content_terms("Hva sier de om fastlegeordningen?", query=True)
    hits = [hit(doc, text[: text.index("Legevakten")]), hit(doc, text[text.index("Legevakten") :])]
    found = candidates_for(hits, doc, terms, {"fastlegeordning": 1.0})
    assert [text[c.span.start : c.span.end] for c in found] == [
        "Fastlegeordningen må styrkes i hele landet.",
        "Legevakten fungerer godt i dag for de fleste.",
    ]
    assert found[0].span.start == text.index("Fastlegeordningen må")  # the first occurrence
    assert [(c.overlap, c.score) for c in found] == [(1.0, 3.0), (0.0, 0.5)]


# --- lead line -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        (FASTLEGE, "fastlegeordningen"),
        ("Hva mener Bergen om ventetid på legevakten ?!", "ventetid på legevakten"),
        ("Hva sier de om *legevakt* og `ventetid` [2]?", "legevakt og ventetid 2"),
        ("Hva sier de om ** ?", None),
        ("Hvem nevner legevakten?", None),
    ],
)
def test_topic_of(question: str, topic: str | None) -> None:
    assert topic_of(question) == topic


def test_lead_line_counts_submitters_and_names_the_topic() -> None:
    assert lead_line(FASTLEGE, 2, 5) == "2 av 5 innspill omtaler fastlegeordningen."
    assert lead_line("Hvem nevner legevakten?", 1, 3) == (
        "1 av 3 innspill har relevante avsnitt om spørsmålet."
    )
    assert not MARKER.search(lead_line("Hva sier de om [1] og _x_?", 1, 1))


# --- compose -------------------------------------------------------------------------------


def paragraph(doc: Document, first: str, last: str) -> str:
    return doc.text[doc.text.index(first) : doc.text.index(last) + len(last)]


def fastlege_hits(documents: dict[str, Document], hit: HitFactory, similarity: float) -> list[Hit]:
    """Bergen and Moss on the fastlege scheme; Møre og Romsdal close, but about dental care."""
    bergen, moss, more = documents["bergen"], documents["moss"], documents["more"]
    return [
        hit(bergen, paragraph(bergen, "Fastlegeordningen er", "nasjonalt."), similarity),
        hit(moss, paragraph(moss, "Fastlegene i", "staten."), similarity - 0.01),
        hit(more, paragraph(more, "Den offentlige", "sykehjem."), similarity - 0.02),
    ]


@pytest.mark.parametrize(
    ("similarity", "coverage", "answered"),
    [(0.5, 1.0, False), (0.87, 0.5, False), (0.87, 1.0, True), (0.9, 0.0, True)],
)
def test_compose_answers_only_answerable_questions(
    documents: dict[str, Document],
    hit: HitFactory,
    similarity: float,
    coverage: float,
    answered: bool,
) -> None:
    hits = fastlege_hits(documents, hit, similarity)
    evidence = replace(FASTLEGE_EVIDENCE, coverage=coverage)
    answer = compose(FASTLEGE, hits, documents, 3, evidence, AnswerSettings())
    assert (answer == (NO_ANSWER_TEXT, True, ())) is not answered


def test_compose_without_quotable_sentences_has_no_answer(
    documents: dict[str, Document], hit: HitFactory
) -> None:
    hits = [hit(documents["bergen"], "Fastlegeordningen\n", 0.95)]  # a heading, nothing to quote
    answer = compose(FASTLEGE, hits, documents, 3, FASTLEGE_EVIDENCE, AnswerSettings())
    assert answer == (NO_ANSWER_TEXT, True, ())


def test_compose_quotes_each_relevant_submitter_under_its_heading(
    documents: dict[str, Document], hit: HitFactory
) -> None:
    hits = fastlege_hits(documents, hit, similarity=0.9)
    text, no_answer, citations = compose(
        FASTLEGE, hits, documents, 3, FASTLEGE_EVIDENCE, AnswerSettings()
    )
    assert not no_answer
    assert [c.n for c in citations] == list(range(1, len(citations) + 1))
    assert [int(m) for m in MARKER.findall(text)] == [c.n for c in citations]
    for c in citations:
        assert c.quote == documents[c.document_id].text[c.start : c.end]
    quotes: dict[str, list[str]] = {}  # one block per submitter, its quotes in citation order
    for c in citations:
        quotes.setdefault(f"**{c.submitter}** ({c.submitter_type})", []).append(
            f"- «{c.quote}» [{c.n}]"
        )
    assert list(quotes) == ["**Bergen kommune** (kommune)", "**Moss kommune** (kommune)"]
    blocks = [heading + "\n" + "\n".join(lines) for heading, lines in quotes.items()]
    assert text == "\n\n".join(["2 av 3 innspill omtaler fastlegeordningen.", *blocks])
    assert "Kommunen foreslår f.eks. flere faste stillinger for fastleger." in text
    assert len([c for c in citations if c.document_id == "bergen"]) == 3  # the per-submitter cap


def test_compose_drops_an_inexact_citation_and_numbers_the_rest(
    documents: dict[str, Document],
    hit: HitFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def one_shifted(n: int, candidate: Candidate) -> Citation:
        citation = make_citation(n, candidate)
        shift = candidate.span.start == documents["bergen"].text.index("Fastlegeordningen er")
        return replace(citation, start=citation.start + 1) if shift else citation

    monkeypatch.setattr("rag.answer.make_citation", one_shifted)
    hits = fastlege_hits(documents, hit, similarity=0.9)
    text, _, citations = compose(FASTLEGE, hits, documents, 3, FASTLEGE_EVIDENCE, AnswerSettings())
    assert "Fastlegeordningen er under" not in text
    assert "dropping citation" in caplog.text and "bergen" in caplog.text
    assert [c.n for c in citations] == list(range(1, len(citations) + 1))
    assert [int(m) for m in MARKER.findall(text)] == [c.n for c in citations]


def test_a_footnote_in_a_quote_cannot_pass_for_a_citation_marker() -> None:
    shown = without_markers("Fastlegeordningen er underfinansiert [3], jf. [a].")
    assert shown == "Fastlegeordningen er underfinansiert \\[3\\], jf. [a]."
    assert not re.search(r"(?<!\\)\[\d+\]", shown)
