"""Locating gold quotes in the cleaned, stored text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from eval.gold import (
    Span,
    StoredText,
    collapse_whitespace,
    locate,
    locate_all,
    locate_by_whitespace,
    locate_by_words,
)
from eval.questions import GoldQuote

STORED = (
    "Innspill fra kommunen\n\nVi mener at fastlegeordningen må styrkes, og at\n"
    "kommunene   trenger flere hjemler.\n\n- Første punkt i listen\n- Andre punkt"
)


def test_collapse_maps_each_character_back_to_its_offset() -> None:
    collapsed, offsets = collapse_whitespace("  a \n\t b  c ")
    assert collapsed == "a b c"
    assert offsets == [2, 6, 7, 9, 10]  # a space maps into the whitespace run it replaces


def test_quote_with_other_line_breaks_is_found_at_its_stored_offsets() -> None:
    quote = "fastlegeordningen må styrkes, og at kommunene trenger flere hjemler."
    span = locate_by_whitespace(STORED, quote)
    assert span is not None
    found = STORED[span.start : span.end]
    assert found.startswith("fastlegeordningen") and found.endswith("hjemler.")
    assert " ".join(found.split()) == quote


def test_quote_across_rewritten_bullets_is_found_by_its_words() -> None:
    quote = "● Første punkt i listen ● Andre punkt"
    assert locate_by_whitespace(STORED, quote) is None
    span = locate_by_words(STORED, quote)
    assert span is not None
    assert STORED[span.start : span.end] == "Første punkt i listen\n- Andre punkt"


def test_locate_reports_how_it_found_the_quote() -> None:
    assert locate(GoldQuote("a.txt", "Vi mener at"), "a", STORED).method == "whitespace"
    assert locate(GoldQuote("a.txt", "listen • Andre"), "a", STORED).method == "words"
    missing = locate(GoldQuote("a.txt", "står ikke her"), "a", STORED)
    assert (missing.method, missing.span, missing.document_id) == ("unlocated", None, "a")


def test_quote_from_an_unindexed_source_stays_unlocated() -> None:
    [found] = locate_all([GoldQuote("nope.txt", "Vi mener")], {"a.txt": StoredText("a", STORED)})
    assert (found.document_id, found.span, found.method) == (None, None, "unlocated")


def test_locate_all_uses_the_document_with_the_quotes_source() -> None:
    by_source = {"a.txt": StoredText("a", "x Vi mener y"), "b.txt": StoredText("b", STORED)}
    [found] = locate_all([GoldQuote("b.txt", "Vi mener")], by_source)
    assert (found.document_id, found.span) == ("b", Span(23, 31))


words = st.text(alphabet="abcæøå", min_size=1, max_size=6)
gaps = st.sampled_from([" ", "  ", "\n", "\n\n", " \t "])


@given(st.lists(st.tuples(words, gaps), min_size=2, max_size=12), st.data())
def test_any_run_of_words_is_found_whatever_the_whitespace(
    pieces: list[tuple[str, str]], data: st.DataObject
) -> None:
    text = "".join(w + g for w, g in pieces)
    i = data.draw(st.integers(0, len(pieces) - 1))
    j = data.draw(st.integers(i, len(pieces) - 1))
    quote = " ".join(w for w, _ in pieces[i : j + 1])
    span = locate_by_whitespace(text, quote)
    assert span is not None
    assert " ".join(text[span.start : span.end].split()) == quote


def test_a_quote_the_document_repeats_is_located_at_every_place() -> None:
    text = "Innledning. Vi trenger flere fastleger. Mellom. Vi trenger flere fastleger. Slutt."
    found = locate(GoldQuote("a.txt", "Vi trenger flere fastleger."), "a", text)
    assert [text[s.start : s.end] for s in found.spans] == ["Vi trenger flere fastleger."] * 2
    assert found.span == found.spans[0] and found.spans[0].start < found.spans[1].start
