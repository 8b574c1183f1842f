"""Unit tests for the pure rendering functions: escaping, offsets, paragraphs, marker links."""

from __future__ import annotations

import html
import re

import pytest
from md_view import links, markup_tags, shown
from md_view import to_html as md_html

from rag.answer import literal as api_literal
from ui.client import Citation
from ui.render import (
    answer_with_links,
    api_error_message,
    api_unavailable_message,
    citation_meta,
    highlight_document,
    highlight_in_paragraph,
    literal,
    overview_rows,
    paragraph_bounds,
    passage_html,
    source_card_html,
    submitter_overview,
)

SCRIPT = '<script>alert("x")</script>'
HOSTILE_TEXTS = [
    "[Les hele innspillet her](https://evil.example/login) ![logo](https://evil.example/logo.png)",
    "[klikk her](javascript:alert(9)) _x_ skriv til phish@evil.example",
    "<img src=x onerror=alert(1)> <https://evil.example/auto> *fet* `kode` ~~borte~~",
    "# Overskrift\n> sitat\n- punkt\n1. nummer\n\n    kodeblokk\n\n| a | b |\n|---|---|",
    "Matte $x^2$ :red[farge] :material/home: [ref]: https://evil.example &amp; &lt; \\*",
]


def make_citation(
    n: int,
    submitter: str = "Moss kommune",
    quote: str = "sitat",
    start: int = 0,
    score: float = 0.5,
    section: str | None = None,
    page: int | None = None,
) -> Citation:
    return Citation(
        n=n,
        document_id=f"doc-{submitter}",
        source=f"{submitter}.pdf",
        submitter=submitter,
        submitter_type="kommune",
        section=section,
        page=page,
        quote=quote,
        start=start,
        end=start + len(quote),
        score=score,
    )


def visible_text(fragment: str) -> str:
    """What a browser would show: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def marked(fragment: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r"<mark[^>]*>(.*?)</mark>", fragment, re.S)]


# --- paragraph bounds ---


def test_paragraph_is_bounded_by_the_nearest_blank_lines() -> None:
    text = "Første avsnitt.\n\nAndre avsnitt har sitatet her og mer.\n\nTredje avsnitt."
    start = text.index("sitatet")
    lo, hi = paragraph_bounds(text, start, start + len("sitatet"))
    assert text[lo:hi] == "Andre avsnitt har sitatet her og mer."


def test_blank_lines_holding_spaces_count_as_paragraph_breaks() -> None:
    text = "Første.\n \nMidt i sitatet.\n \t\nSiste."
    start = text.index("sitatet")
    lo, hi = paragraph_bounds(text, start, start + 7)
    assert text[lo:hi] == "Midt i sitatet."


def test_a_single_newline_does_not_end_the_paragraph() -> None:
    text = "Linje en\nlinje to med sitat\nlinje tre"
    start = text.index("sitat")
    assert paragraph_bounds(text, start, start + 5) == (0, len(text))


def test_quote_spanning_a_blank_line_keeps_both_paragraphs() -> None:
    text = "A.\n\nB slutt.\n\nC start.\n\nD."
    start, end = text.index("slutt"), text.index("start") + 5
    lo, hi = paragraph_bounds(text, start, end)
    assert text[lo:hi] == "B slutt.\n\nC start."


def test_long_paragraph_is_cut_at_whitespace_near_the_quote() -> None:
    words = " ".join(f"ord{i}" for i in range(400))
    text = f"{words} SITAT {words}"
    start = text.index("SITAT")
    lo, hi = paragraph_bounds(text, start, start + 5, max_context=50)
    assert start - 50 <= lo <= start and hi - (start + 5) <= 50
    assert text[lo - 1].isspace() and text[hi].isspace()


@pytest.mark.parametrize(("start", "end"), [(-1, 2), (3, 2), (0, 99)])
def test_offsets_outside_the_text_are_rejected(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        paragraph_bounds("kort tekst", start, end)


# --- highlighting ---


def test_highlight_marks_exactly_the_offsets() -> None:
    text = "Innledning.\n\nKommunen mener at fastlegeordningen må styrkes. Mer tekst.\n\nSlutt."
    quote = "fastlegeordningen må styrkes"
    start = text.index(quote)
    fragment = highlight_in_paragraph(text, start, start + len(quote))
    assert marked(fragment) == [quote]
    assert visible_text(fragment) == "Kommunen mener at fastlegeordningen må styrkes. Mer tekst."


def test_highlight_escapes_html_in_quote_and_paragraph() -> None:
    text = f"<b>Før</b>\n\nStart <img src=x onerror=alert(1)> {SCRIPT} slutt.\n\nEtter"
    start = text.index(SCRIPT)
    fragment = highlight_in_paragraph(text, start, start + len(SCRIPT))
    assert "<script" not in fragment and "<img" not in fragment and "<b>" not in fragment
    assert "&lt;script&gt;" in fragment
    assert marked(fragment) == [SCRIPT]
    assert visible_text(fragment) == f"Start <img src=x onerror=alert(1)> {SCRIPT} slutt."


def test_cut_paragraph_shows_ellipses() -> None:
    text = "a " * 500 + "SITAT" + " b" * 500
    start = text.index("SITAT")
    fragment = highlight_in_paragraph(text, start, start + 5, max_context=40)
    assert fragment.startswith("… ") and fragment.endswith(" …")
    assert len(visible_text(fragment)) < 100


def test_whole_paragraph_has_no_ellipses() -> None:
    text = "Første.\n\nHele avsnittet med SITAT.\n\nSiste."
    start = text.index("SITAT")
    assert "…" not in highlight_in_paragraph(text, start, start + 5)


def test_document_highlight_keeps_every_character_and_marks_the_quote() -> None:
    text = f"Tittel\n\nTekst {SCRIPT} & mer.\n\nSlutt"
    start = text.index(SCRIPT)
    fragment = highlight_document(text, start, start + len(SCRIPT))
    assert '<mark id="treff">' in fragment
    assert "<script" not in fragment
    assert marked(fragment) == [SCRIPT]
    assert visible_text(fragment) == text


def test_document_without_valid_offsets_has_no_mark() -> None:
    assert "<mark" not in highlight_document("tekst", None, None)
    assert "<mark" not in highlight_document("tekst", 3, 99)


def test_passage_falls_back_to_the_bare_quote_when_offsets_do_not_match() -> None:
    citation = make_citation(1, quote=SCRIPT, start=5)
    fragment = passage_html(citation, "helt annen tekst uten sitatet i det hele tatt")
    assert fragment == "<mark>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</mark>"
    assert passage_html(citation, None) == fragment


def test_passage_highlights_in_paragraph_when_offsets_match() -> None:
    text = "Før.\n\nAvsnitt med sitat her.\n\nEtter."
    citation = make_citation(1, quote="sitat", start=text.index("sitat"))
    assert visible_text(passage_html(citation, text)) == "Avsnitt med sitat her."


# --- answer markers ---


def test_known_markers_link_to_their_source_card() -> None:
    answer = "**Moss kommune** (kommune)\n- «Første.» [1]\n- «Andre.» [2][3]"
    linked = answer_with_links(answer, [make_citation(n) for n in (1, 2, 3)])
    for n in (1, 2, 3):
        assert f"[\\[{n}\\]](#kilde-{n})" in linked
    assert "**Moss kommune** (kommune)" in linked


def test_unknown_markers_stay_plain_text() -> None:
    linked = answer_with_links("«Sitat.» [1] og [7]", [make_citation(1)])
    assert links(linked) == ["#kilde-1"]
    assert shown(linked) == "«Sitat.» [1] og [7]"


def test_markers_and_markup_inside_quotes_are_literal() -> None:
    answer = f"- «Se punkt [1] og *dette* {SCRIPT} [lenke](https://x.example)» [1]"
    linked = answer_with_links(answer, [make_citation(1)])
    assert linked.count("#kilde-1") == 1
    assert "<script" not in linked
    assert "](https://" not in linked  # the quote's link syntax is escaped
    assert "\\*dette\\*" in linked and "\\[1\\]" in linked


def test_a_footnote_the_api_escaped_in_a_quote_shows_as_written_and_links_nowhere() -> None:
    linked = answer_with_links("- «Se note \\[3\\] her.» [1]", [make_citation(1), make_citation(3)])
    assert "#kilde-3" not in linked
    assert "Se note \\[3\\] her" in linked  # markdown for the literal text «[3]»
    assert "\\\\" not in linked  # no backslash of the API's escaping is left to show


def test_nested_guillemets_stay_inside_the_quote() -> None:
    answer = "- «Kommunen har «sørge-for» ansvaret [2] i dag.» [1]\n- «Neste.» [2]"
    linked = answer_with_links(answer, [make_citation(1), make_citation(2)])
    assert "«sørge\\-for» ansvaret \\[2\\] i dag\\.» [\\[1\\]](#kilde-1)" in linked
    assert linked.count("#kilde-2") == 1


def test_html_outside_quotes_is_escaped() -> None:
    linked = answer_with_links("Ondsinnet <b>kommune</b>\n- «x» [1]", [make_citation(1)])
    assert "<b>" not in linked and markup_tags(linked) == []
    assert shown(linked).startswith("Ondsinnet <b>kommune</b>")


# --- document text is data: literal Markdown ---


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_literal_text_renders_verbatim_with_no_markup(text: str) -> None:
    assert markup_tags(literal(text)) == [] and links(literal(text)) == []
    # CommonMark folds a line break inside a paragraph; all characters are kept.
    assert shown(literal(text)).split() == text.split()


def test_submitter_heading_stays_bold_but_its_text_is_literal() -> None:
    submitter = "[klikk her](javascript:alert(9)) _x_"
    citation = make_citation(1, submitter=submitter, quote="Et sitat.")
    heading = f"**{api_literal(submitter)}** (kommune)"
    linked = answer_with_links(f"{heading}\n- «Et sitat.» [1]", [citation])
    assert links(linked) == ["#kilde-1"]
    assert markup_tags(linked) == []
    assert f"<strong>{html.escape(submitter, quote=False)}</strong>" in md_html(linked)


def test_bold_line_that_names_no_cited_submitter_is_literal() -> None:
    linked = answer_with_links("**[x](https://evil.example)** (kommune)", [make_citation(1)])
    assert links(linked) == [] and "<strong>" not in md_html(linked)
    assert shown(linked) == "**[x](https://evil.example)** (kommune)"


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_hostile_quotes_and_generated_lines_show_as_written(text: str) -> None:
    one_line = " ".join(text.split())
    citation = make_citation(1, quote=one_line)
    escaped = api_literal(one_line)  # the API escapes document and model text in the answer
    answer = f"Generert: {escaped} [1].\n\n- «{escaped}» [1]"
    linked = answer_with_links(answer, [citation])
    assert links(linked) == ["#kilde-1", "#kilde-1"]
    assert markup_tags(linked) == []
    assert shown(linked) == f"Generert: {one_line} [1].\n\n«{one_line}» [1]"


def test_api_error_messages_are_norwegian_and_literal() -> None:
    detail = "Fant ikke dokumentet [x](https://evil.example) ![i](https://evil.example/i.png)"
    message = api_error_message(404, detail)
    assert shown(message) == f"Fant ikke det du ba om: {detail}"
    assert links(message) == [] and markup_tags(message) == []
    assert shown(api_error_message(503, "Indeksen mangler.")).startswith("Tjenesten er ikke klar")
    assert shown(api_error_message(422, "Tomt.")) == "Spørsmålet kan ikke besvares: Tomt."
    assert (
        shown(api_error_message(500, "Intern feil."))
        == "API-et svarte med feil (500): Intern feil."
    )
    url = "http://127.0.0.1:1/[x](https://evil.example)"
    assert links(api_unavailable_message(url)) == []
    assert url in shown(api_unavailable_message(url))


# --- source cards and overview ---


def test_source_card_has_anchor_and_escaped_fields() -> None:
    citation = make_citation(4, submitter=SCRIPT, section="Fast<lege>", page=3)
    card = source_card_html(citation, "<mark>trygt</mark>")
    assert 'id="kilde-4"' in card
    assert "<script" not in card and "Fast&lt;lege&gt;" in card
    assert "<mark>trygt</mark>" in card
    assert "Side: 3" in card


def test_citation_meta_leaves_out_unknown_fields() -> None:
    assert citation_meta(make_citation(1)) == "Kilde: Moss kommune.pdf"
    assert citation_meta(make_citation(1, section="Tiltak", page=0)).startswith(
        "Seksjon: Tiltak · Side: 0 · "
    )


def test_overview_counts_passages_and_picks_the_best_quote_per_submitter() -> None:
    citations = [
        make_citation(1, "Moss kommune", "svak", score=0.4),
        make_citation(2, "Bergen kommune", "bergen", score=0.6),
        make_citation(3, "Moss kommune", "sterk", score=0.9),
        make_citation(4, "Moss kommune", "middels", score=0.5),
    ]
    overview = submitter_overview(citations)
    assert [(s.submitter, s.passages, s.best.n) for s in overview] == [
        ("Moss kommune", 3, 3),
        ("Bergen kommune", 1, 2),
    ]
    rows = overview_rows(overview)
    assert {key: shown(str(value)) for key, value in rows[0].items()} == {
        "Innsender": "Moss kommune",
        "Type": "kommune",
        "Relevante avsnitt": "3",
        "Beste sitat": "«sterk» [3]",
    }


def test_overview_cells_are_literal_markdown() -> None:
    hostile = "[klikk her](javascript:alert(9)) _x_"
    (row,) = overview_rows(submitter_overview([make_citation(1, hostile, quote=f"Se {hostile}")]))
    for cell in (row["Innsender"], row["Beste sitat"]):
        assert links(str(cell)) == [] and markup_tags(str(cell)) == []
    assert shown(str(row["Innsender"])) == hostile


def test_overview_of_no_citations_is_empty() -> None:
    assert submitter_overview([]) == []
