"""The workbench's HTML: document text is escaped, marks link to the quote, counts read well."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from rag.contract import count_line, type_plural
from ui.client import (
    Citation,
    CompareColumn,
    Matrix,
    MatrixCell,
    MatrixSubmitter,
    TypeCount,
)
from ui.render import literal
from ui.workbench_render import (
    STYLE,
    MatrixView,
    compare_column_html,
    count_rows,
    document_href,
    matrix_html,
    mentions,
    norwegian_key,
    shown_rows,
    silent,
    silent_html,
    topic_citations,
)

EVIL = '<img src=x onerror="alert(1)"> **fet** [lenke](http://example.com)'
SUBMITTERS = (
    MatrixSubmitter("a", "a.txt", "Ålesund kommune", "kommune"),
    MatrixSubmitter("b", "b.txt", f"Evil {EVIL}", "kommune"),
    MatrixSubmitter("c", "c.pdf", "Helsefellesskapet Møre", "helsefellesskap"),
)


def cell(topic: str, doc: str, quote: str | None, confidence: str = "high") -> MatrixCell:
    start = 10 if quote else None
    end = 10 + len(quote) if quote else None
    return MatrixCell(
        topic, doc, quote is not None, confidence if quote else "none", quote, start, end,
        "Del 1" if quote else None, None, 0.9,
    )  # fmt: skip


MATRIX = Matrix(
    topics=("legevakt", "<b>tema</b>"),
    submitters=SUBMITTERS,
    cells=(
        cell("legevakt", "a", "Legevakten må styrkes."),
        cell("legevakt", "b", EVIL, "low"),
        cell("legevakt", "c", None),
        cell("<b>tema</b>", "a", None),
        cell("<b>tema</b>", "b", None),
        cell("<b>tema</b>", "c", None),
    ),
    counts=(
        TypeCount("legevakt", "kommune", 2, 2),
        TypeCount("legevakt", "helsefellesskap", 0, 1),
        TypeCount("<b>tema</b>", "kommune", 0, 2),
        TypeCount("<b>tema</b>", "helsefellesskap", 0, 1),
    ),
)


def test_matrix_html_escapes_every_document_and_user_string() -> None:
    page = matrix_html(MATRIX)
    assert "<img" not in page and "<b>tema" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "&lt;b&gt;tema&lt;/b&gt;" in page


def test_a_mentioned_cell_links_to_its_quote_in_the_document() -> None:
    page = matrix_html(MATRIX)
    href = document_href("a", 10, 10 + len("Legevakten må styrkes."))
    assert f'href="{href.replace("&", "&amp;")}"' in page
    query = parse_qs(urlsplit(href).query)
    assert urlsplit(href).path == "dokument"
    assert query == {
        "doc": ["a"],
        "start": ["10"],
        "end": [str(10 + len("Legevakten må styrkes."))],
    }
    assert page.count("<a ") == 2  # two mentioned cells; the others are dots
    assert 'class="low"' in page and "◐" in page


def test_rows_are_grouped_by_type_and_columns_carry_the_count_line() -> None:
    page = matrix_html(MATRIX)
    assert (
        page.index("Kommuner (2)")
        < page.index("Ålesund kommune")
        < page.index("Helsefellesskap (1)")
        < page.index("Helsefellesskapet Møre")
    )
    assert count_line(MATRIX.counts, "legevakt") == "2 av 2 kommuner, 0 av 1 helsefellesskap"
    assert 'title="legevakt: 2 av 3 (2 av 2 kommuner, 0 av 1 helsefellesskap)"' in page
    assert '<span class="antall">2</span>' in page  # two of the three mention it


def test_the_header_stays_while_the_rows_scroll_in_their_frame() -> None:
    page = matrix_html(MATRIX)
    assert page.startswith('<div class="matrise-ramme">')
    assert page.count('<th class="tema" scope="col"') == len(MATRIX.topics)
    assert ".matrise-ramme { max-height: 70vh; overflow: auto;" in STYLE
    assert ".matrise thead th { position: sticky; top: 0;" in STYLE
    assert "writing-mode: vertical-rl" in STYLE  # topic names upwards: twelve columns fit


def test_types_are_pluralised_by_their_ending() -> None:
    # one rule (rag.contract) for the API's exports and the UI
    for kind, plural in [
        ("kommune", "kommuner"),
        ("helsefellesskap", "helsefellesskap"),
        ("fylkeskommune", "fylkeskommuner"),
        ("organisasjon", "organisasjoner"),
        ("statlig", "statlige"),
        ("ukjent", "ukjent"),
    ]:
        assert [type_plural(kind, n) for n in (0, 1, 2)] == [plural, kind, plural]


def test_topic_citations_follow_the_rows_and_skip_the_silent() -> None:
    citations = topic_citations(MATRIX, "legevakt")
    assert [(c.n, c.document_id, c.source) for c in citations] == [
        (1, "a", "a.txt"),
        (2, "b", "b.txt"),
    ]
    assert topic_citations(MATRIX, "<b>tema</b>") == []


def quote(n: int, text: str) -> Citation:
    return Citation(
        n, "a", "a.txt", "Ålesund kommune", "kommune", "Legevakt", 3, text, 5, 5 + len(text), 1.0
    )


def test_compare_column_shows_quotes_with_links_or_says_not_discussed() -> None:
    column = CompareColumn("a", f"Ålesund {EVIL}", "kommune", "high", 0.9, (quote(1, EVIL),))
    page = compare_column_html(column)
    assert "<img" not in page and page.count("&lt;img") == 2
    assert "dokument?doc=a&amp;start=5" in page and "Side: 3" in page
    silent = compare_column_html(CompareColumn("b", "Bergen kommune", "kommune", "none", 0.5, ()))
    assert "Omtaler ikke dette" in silent and "<blockquote>" not in silent


def test_literal_shows_markdown_as_text() -> None:
    assert literal("**fet** <i>") == "\\*\\*fet\\*\\* &lt;i&gt;"


# --- sorting, filtering, the silent ----------------------------------------------------------

PEOPLE = (
    MatrixSubmitter("o", "o.txt", "Øvre Eiker kommune", "kommune"),
    MatrixSubmitter("a", "a.txt", "Ås kommune", "kommune"),
    MatrixSubmitter("b", "b.txt", "Bergen kommune", "kommune"),
    MatrixSubmitter("f", "f.txt", "Fagforbundet", "organisasjon"),
)
# Only the mentioned cells, as the page asks for them (cells="mentioned", quotes=False).
MARKS = Matrix(
    topics=("legevakt", "rus"),
    submitters=PEOPLE,
    cells=(
        MatrixCell("legevakt", "a", True, "high", None, 1, 5, None, None, 0.9),
        MatrixCell("rus", "a", True, "low", None, 7, 9, None, None, 0.7),
        MatrixCell("legevakt", "f", True, "low", None, 1, 5, None, None, 0.7),
    ),
    counts=(
        TypeCount("legevakt", "kommune", 1, 3),
        TypeCount("legevakt", "organisasjon", 1, 1),
        TypeCount("rus", "kommune", 1, 3),
        TypeCount("rus", "organisasjon", 0, 1),
    ),
)


def ids(rows: list[MatrixSubmitter]) -> list[str]:
    return [r.document_id for r in rows]


def test_rows_sort_by_name_in_norwegian_order_by_type_or_by_topics_mentioned() -> None:
    assert norwegian_key("Øvre") > norwegian_key("Zeta") and norwegian_key("Ås") > norwegian_key(
        "Øvre"
    )
    # grouped by type in the API's order, then by name (the API sorts «Ås» before «Øvre»)
    assert ids(shown_rows(MARKS, MatrixView("type"))) == ["b", "o", "a", "f"]
    assert ids(shown_rows(MARKS, MatrixView("innsender"))) == ["b", "f", "o", "a"]
    assert mentions(MARKS) == {"o": 0, "a": 2, "b": 0, "f": 1}
    assert ids(shown_rows(MARKS, MatrixView("flest"))) == ["a", "f", "b", "o"]
    assert ids(shown_rows(MARKS, MatrixView("færrest"))) == ["b", "o", "f", "a"]


def test_rows_filter_by_their_mark_in_one_topic_or_any() -> None:
    unsure = MatrixView("innsender", frozenset({"low"}))
    assert ids(shown_rows(MARKS, unsure)) == ["f", "a"]
    assert ids(shown_rows(MARKS, MatrixView("innsender", frozenset({"low"}), "rus"))) == ["a"]
    silent_on_rus = MatrixView("innsender", frozenset({"none"}), "rus")
    assert ids(shown_rows(MARKS, silent_on_rus)) == ["b", "f", "o"]
    sure = MatrixView("innsender", frozenset({"high"}), "legevakt")
    assert ids(shown_rows(MARKS, sure)) == ["a"]


def test_a_missing_cell_is_a_dot_and_an_ungrouped_row_names_its_type() -> None:
    page = matrix_html(MARKS, shown_rows(MARKS, MatrixView("innsender")), grouped=False)
    assert page.count("<a ") == 3 and "Kommuner (" not in page
    assert '<span class="type">organisasjon</span>' in page
    assert page.count('class="ingen"') == 2 * 4 - 3
    assert 'title="Ås kommune om rus (usikker)"' in page  # no quote was asked for


def test_the_silent_are_those_that_mention_no_topic() -> None:
    quiet = silent(MARKS)
    assert ids(quiet) == ["b", "o"]
    html = silent_html([*quiet, MatrixSubmitter("x", "x", EVIL, "kommune")])
    assert "<img" not in html and "<li>Bergen kommune (kommune)</li>" in html


def test_count_rows_are_plain_text_per_topic_and_type() -> None:
    assert count_rows(MARKS) == [
        {"Tema": "legevakt", "kommune": "1 av 3", "organisasjon": "1 av 1"},
        {"Tema": "rus", "kommune": "1 av 3", "organisasjon": "0 av 1"},
    ]


def test_a_compare_column_shows_each_quote_in_its_paragraph_when_the_text_is_given() -> None:
    text = "Innledning.\n\nFørst dette. Legevakten må styrkes. Og mer.\n\nSlutt."
    start = text.index("Legevakten")
    citation = Citation(1, "a", "a.txt", "Ås", "kommune", None, None, "Legevakten må styrkes.",
                        start, start + len("Legevakten må styrkes."), 1.0)  # fmt: skip
    column = CompareColumn("a", "Ås", "kommune", "high", 0.9, (citation,))
    page = compare_column_html(column, {"a": text})
    assert "Først dette. <mark>Legevakten må styrkes.</mark> Og mer." in page
    assert "<mark>" not in compare_column_html(column)
