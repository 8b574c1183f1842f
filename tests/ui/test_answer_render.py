"""The grouped answer as the page shows it, from the API's structured answer: counts, groups,
a template quote once with every marker, the rest of a group apart, markers that lead to a card
on the page or to the quote in its document, document text literal."""

from __future__ import annotations

import html

from md_view import links, markup_tags, shown

from ui.answer_render import (
    Markers,
    first_cards,
    heading,
    lead,
    quote_line,
    rest,
    rest_lines,
    scope_note,
)
from ui.client import Answer, Citation, QuoteGroup, TypeTally


def cite(n: int, submitter: str, quote: str, kind: str = "kommune") -> Citation:
    return Citation(n, f"d{n}", f"d{n}.txt", submitter, kind, None, None, quote, 0, len(quote), 0.9)


CITES = (
    cite(1, "Bamble kommune", "Vi trenger flere fastleger."),
    cite(2, "Bodø kommune", "Vi trenger flere fastleger."),
    cite(3, "[lenke](http://evil.example) _x_", "Se ![bilde](http://evil.example/x.png)."),
    cite(4, "Spekter", "Rekruttering er krevende.", "organisasjon"),
)
GROUP = QuoteGroup(
    ("fastleger", "rekruttering"), {"kommune": 3, "organisasjon": 1}, ((1, 2), (3,)), (1, 2, 3, 4)
)
ANSWER = Answer(
    "Hva sier kommunene om fastleger?",
    "…",
    False,
    "high",
    CITES,
    counts=(TypeTally("kommune", 3, 200), TypeTally("organisasjon", 1, 50)),
    groups=(GROUP,),
    scope=("kommune",),
)
BY_N = {c.n: c for c in CITES}
ALL_CARDED = Markers(frozenset(BY_N))


def test_the_lead_counts_submitters_by_type() -> None:
    assert (
        shown(lead(ANSWER))
        == "4 av 250 innspill er sitert: 3 av 200 kommuner, 1 av 50 organisasjoner."
    )
    assert (
        shown(scope_note(ANSWER) or "") == "Spørsmålet gjelder kommuner: bare kommuner er tatt med."
    )
    assert scope_note(Answer("q", "a", False, "high", CITES)) is None


def test_a_template_quote_is_shown_once_with_every_senders_marker() -> None:
    line = quote_line((1, 2), BY_N, ALL_CARDED)
    assert shown(line) == (
        "Samme tekst i 2 innspill: «Vi trenger flere fastleger.» [1] [2] "
        "– Bamble kommune, Bodø kommune"
    )
    assert links(line) == ["#kilde-1", "#kilde-2"]


def test_a_marker_without_a_card_on_the_page_opens_its_quote_in_the_document() -> None:
    line = quote_line((1, 2), BY_N, Markers(frozenset({1}), "Hva med fastleger?"))
    doc = "dokument?doc=d2&start=0&end=27&q=Hva+med+fastleger%3F"
    assert [html.unescape(link) for link in links(line)] == ["#kilde-1", doc]


def test_a_template_sentence_of_many_senders_names_three_and_all_in_the_expander() -> None:
    senders = tuple(cite(10 + i, f"Kommune {i}", "Samme setning.") for i in range(6))
    by_n = {c.n: c for c in senders}
    numbers = tuple(by_n)
    line = quote_line(numbers, by_n, Markers(frozenset()))
    assert shown(line).endswith("– Kommune 0, Kommune 1, Kommune 2 og 3 andre")
    assert len(links(line)) == 6  # every marker stays on the line
    group = QuoteGroup(("ord",), {"kommune": 6}, (numbers,), numbers)
    [everyone] = rest_lines(group, by_n, Markers(frozenset()))
    assert shown(everyone) == (
        "Samme tekst i 6 innspill, alle avsendere: "
        + ", ".join(f"Kommune {i} [{10 + i}]" for i in range(6))
    )
    four = numbers[:4]  # one more than three: named on the line, no list apart
    assert shown(quote_line(four, by_n, ALL_CARDED)).endswith("Kommune 2, Kommune 3")
    assert rest_lines(QuoteGroup(("ord",), {"kommune": 4}, (four,), four), by_n, ALL_CARDED) == []


def test_the_group_shows_its_first_quotes_and_keeps_the_rest_apart() -> None:
    assert shown(heading(1, GROUP)) == "1. fastleger, rekruttering – 3 kommuner, 1 organisasjon"
    assert rest(GROUP) == [4]
    assert (
        shown("\n".join(rest_lines(GROUP, BY_N, ALL_CARDED)))
        == "«Rekruttering er krevende.» [4] – Spekter (organisasjon)"
    )
    assert [c.n for c in first_cards(ANSWER)] == [1]  # a point: the card of its first quote
    best = QuoteGroup((), {"kommune": 2, "organisasjon": 1}, ((4,), (1, 2), (3,)), (4, 1, 2, 3))
    specific = Answer("Hvem?", "…", False, "high", CITES, groups=(best,))
    assert [c.n for c in first_cards(specific)] == [4, 1, 3]  # the best evidence: every quote


def test_document_text_in_a_group_stays_text() -> None:
    line = quote_line((3,), BY_N, ALL_CARDED)
    assert not markup_tags(line) or set(markup_tags(line)) <= {"strong", "a", "/a", "/strong"}
    assert links(line) == ["#kilde-3"]  # the marker, never the hostile link or image
    assert "![bilde](http://evil.example/x.png)" in shown(line)
    assert "[lenke](http://evil.example) _x_" in shown(line)
    hostile = QuoteGroup(("**ord**", "[x](y)"), {"*type*": 1}, ((3,),), (3,))
    assert links(heading(2, hostile)) == [] and "**ord**, [x](y)" in shown(heading(2, hostile))
