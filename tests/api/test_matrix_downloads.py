"""POST /matrix over real HTTP on a small fake-embedder index: the trimmed JSON a page asks for
(`cells`, `quotes`), downloads made in the export lane (a child process), a download refused
when too many wait, and a download of the matrix just shown made without deciding it again."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes import FakeEmbedder, fake_corpus, fake_settings
from fastapi import FastAPI
from live_server import serving
from openpyxl import load_workbook

from rag.api import create_app
from rag.csv_cells import cell_text
from rag.export import MATRIX_COLUMNS
from rag.service import Service

TEXTS = {
    "bergen.txt": "Innspill fra Bergen kommune\n\nLegevakten i Bergen har lange ventetider om "
    "natten. Fastlegeordningen er under press i Bergen.\n",
    "moss.txt": "Innspill fra Moss kommune\n\nLegevakten i Moss trenger flere sykepleiere. "
    "Samhandlingen med sykehuset fungerer godt.\n",
    "tannlegene.txt": "Innspill fra Tannlegeforeningen\n\nTannhelsetjenesten trenger flere "
    "tannleger i distriktene. Eldre på sykehjem venter for lenge på tannbehandling.\n",
}
TOPICS = ["legevakten om natten", "tannleger i distriktene", "vulkanutbrudd på Island"]
Json = dict[str, Any]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_corpus(tmp_path_factory.mktemp("matrix-api"), TEXTS)


@pytest.fixture(scope="module")
def app(folder: Path) -> FastAPI:
    return create_app(fake_settings(folder, export_waiting=0), FakeEmbedder)


@pytest.fixture(scope="module")
def url(app: FastAPI) -> Iterator[str]:
    with serving(app) as url:
        yield url


def matrix(url: str, **options: Any) -> Json:
    response = httpx.post(f"{url}/matrix", json={"topics": TOPICS, **options}, timeout=60)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


def test_a_page_can_ask_for_the_marks_alone(url: str) -> None:
    full = matrix(url)
    marks = matrix(url, cells="mentioned", quotes=False)
    mentioned = [c for c in full["cells"] if c["mentioned"]]
    assert 0 < len(mentioned) < len(full["cells"])  # the matrix has marks and gaps
    assert [(c["topic"], c["document_id"], c["confidence"]) for c in marks["cells"]] == [
        (c["topic"], c["document_id"], c["confidence"]) for c in mentioned
    ]
    assert [(c["start"], c["end"]) for c in marks["cells"]] == [
        (c["start"], c["end"]) for c in mentioned
    ]  # a mark still links to its quote
    assert all(c["quote"] is None and c["section"] is None for c in marks["cells"])
    assert (marks["submitters"], marks["counts"]) == (full["submitters"], full["counts"])
    quotes = matrix(url, cells="mentioned")
    assert [c["quote"] for c in quotes["cells"]] == [c["quote"] for c in mentioned]


def test_the_options_do_not_trim_a_download(url: str) -> None:
    full = matrix(url)
    response = httpx.post(
        f"{url}/matrix",
        params={"format": "csv"},
        json={"topics": TOPICS, "cells": "mentioned", "quotes": False},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert list(rows[0]) == list(MATRIX_COLUMNS)
    assert len(rows) == len(full["cells"])
    quoted = {(r["tema"], r["dokument"]): cell_text(r["sitat"]) for r in rows if r["sitat"]}
    assert quoted == {
        (c["topic"], c["document_id"]): c["quote"] for c in full["cells"] if c["mentioned"]
    }


def test_an_xlsx_download_holds_every_cell(url: str) -> None:
    full = matrix(url)
    response = httpx.post(
        f"{url}/matrix", params={"format": "xlsx"}, json={"topics": TOPICS}, timeout=60
    )
    assert response.status_code == 200, response.text
    assert "oversikt-3-temaer.xlsx" in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content))["Sitater"]
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == len(full["cells"]) + 1


def test_a_download_when_as_many_wait_as_may_is_refused_with_retry_after(
    app: FastAPI, url: str
) -> None:
    holding = threading.Event()
    release = threading.Event()

    def hold_the_turn() -> None:
        with app.state.exports.turn():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_turn, daemon=True)
    holder.start()
    try:
        assert holding.wait(5)
        response = httpx.post(
            f"{url}/matrix", params={"format": "docx"}, json={"topics": TOPICS}, timeout=60
        )
        assert response.status_code == 503
        assert response.headers["retry-after"] == "10"
        assert "Prøv igjen" in response.json()["detail"]
        asked = httpx.post(f"{url}/ask", json={"question": "Hva sier de om legevakten?"})
        assert asked.status_code == 200  # questions are not in the export's queue
    finally:
        release.set()
        holder.join(10)


def test_the_matrix_just_shown_is_downloaded_without_deciding_it_again(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    decided: list[int] = []
    decide = Service.decisions_for_many

    def counted(self: Service, *args: Any, **kwargs: Any) -> Any:
        decided.append(1)
        return decide(self, *args, **kwargs)

    monkeypatch.setattr(Service, "decisions_for_many", counted)
    topics = ["sykepleiere på legevakten", "samhandling med sykehuset"]
    shown = httpx.post(f"{url}/matrix", json={"topics": topics, "cells": "mentioned"})
    assert shown.status_code == 200 and len(decided) == 1
    for fmt in ("xlsx", "docx"):
        response = httpx.post(
            f"{url}/matrix", params={"format": fmt}, json={"topics": topics}, timeout=60
        )
        assert response.status_code == 200, response.text
    assert len(decided) == 1
    again = httpx.post(f"{url}/matrix", json={"topics": topics}).json()
    assert again["timings_ms"]["reused"] == 1.0
    other = httpx.post(f"{url}/matrix", json={"topics": topics[:1]})
    assert other.status_code == 200 and len(decided) == 2
