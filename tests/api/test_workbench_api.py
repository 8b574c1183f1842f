"""The workbench endpoints on the real seeds index over real HTTP: POST /matrix, POST /compare,
GET /topics, and the ?format= downloads of /ask and /matrix."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from docx import Document as open_docx
from openpyxl import load_workbook

from rag.export import ANSWER_COLUMNS, CONTENT_TYPES, MATRIX_COLUMNS
from rag.matrix import read_topics

pytestmark = pytest.mark.slow

Json = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]
FASTLEGE = "fastlegeordningen"
# Not in the submissions. (A topic next to covered ones, such as «tannhelsetjenester for
# voksne», gets weak "low" marks: e5-small cannot tell it apart by similarity; see README.)
UNCOVERED = "vulkanutbrudd på Island"  # nothing in the submissions is near it
QUESTION = "Hva sier kommunene om fastlegeordningen?"
MOSS, AHUS, BERGEN = "000_1151dadce9b0985f", "001_7127cb6351a76271", "003_3d69ec6ad6cea8a3"


@pytest.fixture(scope="module")
def default_topics(client: httpx.Client) -> list[str]:
    response = client.get("/topics")
    assert response.status_code == 200, response.text
    topics: list[str] = response.json()["topics"]
    return topics


@pytest.fixture(scope="module")
def matrix(client: httpx.Client, default_topics: list[str]) -> Json:
    response = client.post("/matrix", json={"topics": [*default_topics, UNCOVERED]})
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


def cell_of(matrix: Json, topic: str, document_id: str) -> Json:
    found = [c for c in matrix["cells"] if c["topic"] == topic and c["document_id"] == document_id]
    assert len(found) == 1, (topic, document_id)
    return found[0]


def test_topics_serves_the_topics_file(default_topics: list[str]) -> None:
    assert default_topics == read_topics(ROOT / "topics.txt")
    assert FASTLEGE in default_topics


def test_every_topic_and_submitter_has_one_cell(
    matrix: Json, documents: dict[str, Json], default_topics: list[str]
) -> None:
    assert matrix["topics"] == [*default_topics, UNCOVERED]
    assert {s["document_id"] for s in matrix["submitters"]} == set(documents)
    for submitter in matrix["submitters"]:
        doc = documents[submitter["document_id"]]
        assert (submitter["submitter"], submitter["submitter_type"]) == (
            doc["submitter"],
            doc["submitter_type"],
        )
    keys = [(c["topic"], c["document_id"]) for c in matrix["cells"]]
    assert sorted(keys) == sorted((t, d) for t in matrix["topics"] for d in documents)
    types = [s["submitter_type"] for s in matrix["submitters"]]
    assert types == sorted(types, key=types.index)  # grouped: each type in one run


def test_mentioned_cells_quote_the_document_exactly(
    matrix: Json, documents: dict[str, Json]
) -> None:
    mentioned = [c for c in matrix["cells"] if c["mentioned"]]
    assert len(mentioned) >= len(documents) * 3  # the seeds discuss most of the plan's themes
    for cell in mentioned:
        text = documents[cell["document_id"]]["text"]
        assert cell["confidence"] in ("high", "low")
        assert cell["quote"] and text[cell["start"] : cell["end"]] == cell["quote"]
    for cell in (c for c in matrix["cells"] if not c["mentioned"]):
        assert cell["confidence"] == "none"
        assert (cell["quote"], cell["start"], cell["end"]) == (None, None, None)


def test_counts_add_up(matrix: Json, documents: dict[str, Json]) -> None:
    per_type: dict[str, int] = {}
    for doc in documents.values():
        per_type[doc["submitter_type"]] = per_type.get(doc["submitter_type"], 0) + 1
    for topic in matrix["topics"]:
        counts = {c["submitter_type"]: c for c in matrix["counts"] if c["topic"] == topic}
        assert {k: c["total"] for k, c in counts.items()} == per_type
        for kind, count in counts.items():
            cells = [
                c
                for c in matrix["cells"]
                if c["topic"] == topic and documents[c["document_id"]]["submitter_type"] == kind
            ]
            assert count["mentioned"] == sum(c["mentioned"] for c in cells)


def test_the_fastlege_column_marks_most_of_the_five(matrix: Json) -> None:
    """All five discuss it; the eval's matrix coverage measures who is missed (one, today)."""
    column = [c for c in matrix["cells"] if c["topic"] == FASTLEGE]
    assert len(column) == 5 and sum(c["mentioned"] for c in column) >= 4


def test_a_topic_the_corpus_does_not_cover_marks_none(matrix: Json) -> None:
    column = [c for c in matrix["cells"] if c["topic"] == UNCOVERED]
    assert len(column) == 5 and not any(c["mentioned"] for c in column)
    assert all(c["mentioned"] == 0 for c in matrix["counts"] if c["topic"] == UNCOVERED)


def test_the_matrix_uses_the_same_decision_as_ask(client: httpx.Client, matrix: Json) -> None:
    """A column marks exactly the submitters /ask quotes for «Hva sier innspillene om X?»."""
    for topic in ("legevakt", FASTLEGE, UNCOVERED):
        asked = client.post("/ask", json={"question": f"Hva sier innspillene om {topic}?"}).json()
        cited = {c["document_id"] for c in asked["citations"]}
        marked = {
            c["document_id"] for c in matrix["cells"] if c["topic"] == topic and c["mentioned"]
        }
        assert marked == cited, topic


def test_ten_topics_are_timed(client: httpx.Client, default_topics: list[str]) -> None:
    started = time.perf_counter()
    response = client.post("/matrix", json={"topics": default_topics[:10]})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    timings = response.json()["timings_ms"]
    assert set(timings) == {"decide", "matrix", "total"}
    assert 0 < timings["total"] <= elapsed * 1000
    # The target is 1 s on an idle machine; the bound here only catches a pathological slowdown
    # on a shared CI runner.
    assert elapsed < 10


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"topics": []},
        {"topics": [""]},
        {"topics": ["   "]},
        {"topics": ["x" * 201]},
        {"topics": [f"tema {i}" for i in range(31)]},
        {"topics": ["legevakt", "legevakt"]},
        {"topics": "legevakt"},
        {"topics": [1]},
        {"topics": ["legevakt"], "ukjent": True},
        {"topics": ["legevakt"], "filters": {"submitter": ["Oslo kommune"]}},
        {"topics": ["legevakt"], "filters": {"farge": ["blå"]}},
    ],
)
def test_bad_matrix_bodies_get_422(client: httpx.Client, body: Json) -> None:
    response = client.post("/matrix", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_filters_narrow_the_matrix(client: httpx.Client, documents: dict[str, Json]) -> None:
    body = {"topics": [FASTLEGE], "filters": {"submitter_type": ["kommune"]}}
    matrix = client.post("/matrix", json=body).json()
    kommuner = {i for i, d in documents.items() if d["submitter_type"] == "kommune"}
    assert {s["document_id"] for s in matrix["submitters"]} == kommuner
    assert [c["submitter_type"] for c in matrix["counts"]] == ["kommune"]


# --- /compare ---------------------------------------------------------------------------------


def test_compare_gives_each_chosen_submitter_its_own_column(
    client: httpx.Client, documents: dict[str, Json]
) -> None:
    body = {"question": "Hva sier innspillene om legevakt?", "document_ids": [BERGEN, AHUS, MOSS]}
    response = client.post("/compare", json=body)
    assert response.status_code == 200, response.text
    columns = response.json()["columns"]
    assert [c["document_id"] for c in columns] == [BERGEN, AHUS, MOSS]
    by_id = {c["document_id"]: c for c in columns}
    assert by_id[BERGEN]["quotes"] and by_id[MOSS]["quotes"]
    assert by_id[AHUS]["confidence"] == "none" and by_id[AHUS]["quotes"] == []  # no legevakt
    for column in columns:
        text = documents[column["document_id"]]["text"]
        for quote in column["quotes"]:
            assert quote["document_id"] == column["document_id"]
            assert text[quote["start"] : quote["end"]] == quote["quote"]


@pytest.mark.parametrize(
    "body",
    [
        {"question": "legevakt", "document_ids": [MOSS]},
        {"question": "legevakt", "document_ids": [MOSS, AHUS, BERGEN, "a", "b"]},
        {"question": "legevakt", "document_ids": [MOSS, MOSS]},
        {"question": "legevakt", "document_ids": [MOSS, "finnes-ikke"]},
        {"question": " ", "document_ids": [MOSS, AHUS]},
    ],
)
def test_bad_compare_bodies_get_422(client: httpx.Client, body: Json) -> None:
    assert client.post("/compare", json=body).status_code == 422


# --- downloads ------------------------------------------------------------------------------


def download(client: httpx.Client, path: str, body: Json, fmt: str) -> bytes:
    response = client.post(path, params={"format": fmt}, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPES[fmt]  # type: ignore[index]
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="') and disposition.endswith(f'.{fmt}"')
    return response.content


@pytest.fixture(scope="module")
def answer(client: httpx.Client) -> Json:
    body: Json = client.post("/ask", json={"question": QUESTION}).json()
    assert body["citations"]
    return body


def csv_rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_json_stays_the_default(client: httpx.Client, answer: Json) -> None:
    response = client.post("/ask", params={"format": "json"}, json={"question": QUESTION})
    assert response.headers["content-type"] == "application/json"
    assert response.json()["citations"] == answer["citations"]


def test_an_unknown_format_gets_422(client: httpx.Client) -> None:
    for path, body in (("/ask", {"question": QUESTION}), ("/matrix", {"topics": [FASTLEGE]})):
        response = client.post(path, params={"format": "pdf"}, json=body)
        assert response.status_code == 422 and "format" in response.json()["detail"]


def test_answer_csv_carries_every_citation_exactly(client: httpx.Client, answer: Json) -> None:
    rows = csv_rows(download(client, "/ask", {"question": QUESTION}, "csv"))
    assert list(rows[0]) == list(ANSWER_COLUMNS)
    assert len(rows) == len(answer["citations"])
    for row, c in zip(rows, answer["citations"], strict=True):
        assert row["sitat"] == c["quote"]
        assert (row["innsender"], row["type"], row["dokument"]) == (
            c["submitter"],
            c["submitter_type"],
            c["document_id"],
        )
        assert (int(row["start"]), int(row["slutt"])) == (c["start"], c["end"])
        assert row["seksjon"] == (c["section"] or "")
    assert any(ch in "".join(r["sitat"] for r in rows) for ch in "æøå")


def test_answer_xlsx_carries_every_citation_exactly(client: httpx.Client, answer: Json) -> None:
    sheet = load_workbook(io.BytesIO(download(client, "/ask", {"question": QUESTION}, "xlsx")))[
        "Sitater"
    ]
    rows = list(sheet.iter_rows(values_only=True))
    column = {name: i for i, name in enumerate(rows[0])}
    assert len(rows) - 1 == len(answer["citations"])
    for row, c in zip(rows[1:], answer["citations"], strict=True):
        assert row[column["sitat"]] == c["quote"]
        assert row[column["innsender"]] == c["submitter"]
        assert (row[column["start"]], row[column["slutt"]]) == (c["start"], c["end"])


def test_answer_docx_is_a_readable_report(client: httpx.Client, answer: Json) -> None:
    doc = open_docx(io.BytesIO(download(client, "/ask", {"question": QUESTION}, "docx")))
    paragraphs = [(p.style.name, p.text) for p in doc.paragraphs]
    assert ("Heading 1", QUESTION) in paragraphs
    # under a heading per submitter, in the order the answer first quotes each
    order = list(dict.fromkeys(c["submitter"] for c in answer["citations"]))
    by_submitter = sorted(answer["citations"], key=lambda c: order.index(c["submitter"]))
    assert [t for s, t in paragraphs if s == "Quote"] == [c["quote"] for c in by_submitter]
    sources = [t for s, t in paragraphs if s == "List Number"]
    for line, c in zip(sources, answer["citations"], strict=True):
        assert c["submitter"] in line and f"tegn {c['start']}–{c['end']}" in line
    headings = {t for s, t in paragraphs if s == "Heading 2"}
    assert {f"{c['submitter']} ({c['submitter_type']})" for c in answer["citations"]} == headings


def test_answer_markdown_names_every_source(client: httpx.Client, answer: Json) -> None:
    text = download(client, "/ask", {"question": QUESTION}, "md").decode("utf-8")
    assert text.startswith("# Hva sier kommunene om fastlegeordningen?")
    for c in answer["citations"]:
        assert f"tegn {c['start']}–{c['end']}" in text


def test_matrix_exports_keep_quotes_and_offsets(client: httpx.Client, matrix: Json) -> None:
    body = {"topics": matrix["topics"]}
    mentioned = {(c["topic"], c["document_id"]): c for c in matrix["cells"] if c["mentioned"]}
    rows = csv_rows(download(client, "/matrix", body, "csv"))
    assert list(rows[0]) == list(MATRIX_COLUMNS) and len(rows) == len(matrix["cells"])
    for row in rows:
        cell = mentioned.get((row["tema"], row["dokument"]))
        assert (row["omtalt"] == "ja") == (cell is not None)
        if cell:
            assert row["sitat"] == cell["quote"]
            assert (int(row["start"]), int(row["slutt"])) == (cell["start"], cell["end"])
    book = load_workbook(io.BytesIO(download(client, "/matrix", body, "xlsx")))
    grid = list(book["Oversikt"].iter_rows(values_only=True))
    assert grid[0][2:] == tuple(matrix["topics"]) and len(grid) == 1 + len(matrix["submitters"])
    doc = open_docx(io.BytesIO(download(client, "/matrix", body, "docx")))
    quotes = [p.text for p in doc.paragraphs if p.style.name == "Quote"]
    assert sorted(quotes) == sorted(c["quote"] for c in mentioned.values())
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert headings == [*matrix["topics"], "Kilder"]
