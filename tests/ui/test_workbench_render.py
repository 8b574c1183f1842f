"""The workbench's HTML: document text is escaped, marks link to the quote, counts read well."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from md_view import links, markup_tags, shown

from rag.contract import count_line, type_plural
from ui.client import (
    Citation,
    CompareColumn,
    DocumentInfo,
    Matrix,
    MatrixCell,
    MatrixSubmitter,
    SharedText,
    TypeCount,
)
from ui.render import literal
from ui.workbench_render import (
    compare_column_html,
    document_href,
    matrix_html,
    shared_text_rows,
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


def test_shared_text_rows_name_both_submitters_and_the_share() -> None:
    docs = [
        DocumentInfo("a", "a.txt", "Ålesund kommune", "kommune", "A", 10, 1),
        DocumentInfo("b", "b.txt", "Bergen kommune", "kommune", "B", 10, 1),
    ]
    rows = shared_text_rows(docs, {"a": (SharedText("b", 0.934, True),), "b": ()})
    assert rows == [
        {
            "Innsender": "Ålesund kommune",
            "Deler tekst med": "Bergen kommune",
            "Andel av egne setninger": "93 %",
            "Nesten likt (mal)": "ja",
        }
    ]


def test_literal_shows_markdown_as_text() -> None:
    assert literal("**fet** <i>") == "\\*\\*fet\\*\\* &lt;i&gt;"


def test_shared_text_rows_show_hostile_names_as_text() -> None:
    """st.table renders its cells as Markdown: a name may not become a link or an image."""
    image = "![logo](https://evil.example/logo.png) Bildelaget"
    docs = [
        DocumentInfo("a", "a.txt", EVIL, "kommune", "A", 10, 1),
        DocumentInfo("b", "b.txt", image, "annen", "B", 10, 1),
    ]
    rows = shared_text_rows(docs, {"a": (SharedText("b", 0.5, False),), "b": ()})
    [row] = rows
    assert shown(row["Innsender"]) == EVIL and shown(row["Deler tekst med"]) == image
    for cell in row.values():
        assert links(cell) == [] and markup_tags(cell) == [], cell
