"""The grouped answer as the page shows it, from the API's structured answer: counts, groups,
a template quote once with every marker, the rest of a group apart, document text literal."""

from __future__ import annotations

from md_view import links, markup_tags, shown

from ui.answer_render import (
    heading,
    lead,
    quote_line,
    rest,
    rest_lines,
    scope_note,
    shown_citations,
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
    line = quote_line((1, 2), BY_N)
    assert shown(line) == (
        "Samme tekst i 2 innspill: «Vi trenger flere fastleger.» [1] [2] "
        "– Bamble kommune, Bodø kommune"
    )
    assert links(line) == ["#kilde-1", "#kilde-2"]


def test_the_group_shows_its_first_quotes_and_keeps_the_rest_apart() -> None:
    assert shown(heading(1, GROUP)) == "1. fastleger, rekruttering – 3 kommuner, 1 organisasjon"
    assert rest(GROUP) == [4]
    assert (
        shown("\n".join(rest_lines(GROUP, BY_N)))
        == "«Rekruttering er krevende.» [4] – Spekter (organisasjon)"
    )
    assert [c.n for c in shown_citations(ANSWER)] == [1, 2, 3]


def test_document_text_in_a_group_stays_text() -> None:
    line = quote_line((3,), BY_N)
    assert not markup_tags(line) or set(markup_tags(line)) <= {"strong", "a", "/a", "/strong"}
    assert links(line) == ["#kilde-3"]  # the marker, never the hostile link or image
    assert "![bilde](http://evil.example/x.png)" in shown(line)
    assert "[lenke](http://evil.example) _x_" in shown(line)
    hostile = QuoteGroup(("**ord**", "[x](y)"), {"*type*": 1}, ((3,),), (3,))
    assert links(heading(2, hostile)) == [] and "**ord**, [x](y)" in shown(heading(2, hostile))
