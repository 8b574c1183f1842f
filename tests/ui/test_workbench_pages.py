"""The workbench pages run with AppTest against the fake API: «Oversikt» (filters, sorting, the
silent, quotes fetched per topic, the trimmed matrix it asks for), «Sammenlign» (each document
fetched once) and `document_texts`, the helper every page showing quotes in their paragraphs
uses (each document fetched at most once, however many quotes name it)."""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import pytest
from fake_api import HOSTILE_ID, HOSTILE_QUESTION, IMAGE_ID, META, FakeApi, quotes_of
from streamlit.testing.v1 import AppTest

from ui.settings import UiSettings
from ui.workbench import document_texts

TIMEOUT = 30
TOPICS = ("legevakt", "rus og psykisk helse")


def _overview_script() -> None:
    from ui.overview import overview_page

    overview_page()


def _compare_script() -> None:
    from ui.compare import compare_page

    compare_page()


def overview(api_url: str, monkeypatch: pytest.MonkeyPatch, **query: Any) -> AppTest:
    monkeypatch.setenv("RAG_UI_API_URL", api_url)
    at = AppTest.from_function(_overview_script, default_timeout=TIMEOUT)
    at.query_params.update({"topics": list(TOPICS), **query})
    return at.run()


def matrix_rows(at: AppTest) -> list[str]:
    """The submitters the matrix shows, in order (row headers, the type line left out)."""
    page = next(e.value for e in at.get("html") if 'class="matrise"' in e.value)
    names = re.findall(r'<th scope="row">(.*?)(?:<span class="type">.*?</span>)?</th>', page)
    return [html_text(name) for name in names]


def html_text(escaped: str) -> str:
    return html.unescape(escaped)


SPEAKING = [d for d in META if quotes_of(d)]  # the fake's submitters that mention every topic
SILENT = [d for d in META if not quotes_of(d)]


def test_the_page_asks_for_the_marks_alone_and_lists_every_submitter(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = overview(fake_api.url, monkeypatch)
    assert not at.exception
    assert fake_api.matrices[0] == {"topics": list(TOPICS), "cells": "mentioned", "quotes": False}
    assert sorted(matrix_rows(at)) == sorted(META[d][0] for d in META)
    page = next(e.value for e in at.get("html") if 'class="matrise"' in e.value)
    assert page.count('<th class="tema" scope="col"') == len(TOPICS)
    assert page.count("<a ") == len(SPEAKING) * len(TOPICS)


def test_the_silent_are_listed(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    at = overview(fake_api.url, monkeypatch)
    heading = f"Har ikke uttalt seg om noen av temaene ({len(SILENT)})"
    assert heading in [h.value for h in at.subheader]
    listed = next(e.value for e in at.get("html") if 'class="tause"' in e.value)
    items = [html_text(i) for i in re.findall(r"<li>(.*?)</li>", listed)]
    assert sorted(items) == sorted(f"{META[d][0]} ({META[d][1]})" for d in SILENT)


def test_the_type_filter_goes_to_the_api_and_into_the_link(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = overview(fake_api.url, monkeypatch)
    at.multiselect(key="matrise_type").select("kommune")
    at.run()
    assert at.query_params["type"] in ("kommune", ["kommune"])  # one value, as AppTest gives it
    assert fake_api.matrices[-1]["filters"] == {"submitter_type": ["kommune"]}
    kommuner = [META[d][0] for d in META if META[d][1] == "kommune"]
    assert sorted(matrix_rows(at)) == sorted(kommuner)
    shared = overview(fake_api.url, monkeypatch, type="organisasjon")  # a shared link
    organisations = [META[d][0] for d in META if META[d][1] == "organisasjon"]
    assert sorted(matrix_rows(shared)) == sorted(organisations)


def test_rows_filter_by_mark_and_sort_by_topics_mentioned(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = overview(fake_api.url, monkeypatch)
    at.multiselect(key="matrise_status").select("none")  # «omtaler ikke»
    at.run()
    assert sorted(matrix_rows(at)) == sorted(META[d][0] for d in SILENT)
    at.multiselect(key="matrise_status").unselect("none").select("high")
    at.selectbox(key="matrise_tema").select(TOPICS[1])
    at.run()
    assert sorted(matrix_rows(at)) == sorted(META[d][0] for d in SPEAKING)
    at.multiselect(key="matrise_status").unselect("high")
    at.selectbox(key="matrise_sort").select("flest")
    at.run()
    rows = matrix_rows(at)
    assert sorted(rows[: len(SPEAKING)]) == sorted(META[d][0] for d in SPEAKING)


def test_a_topics_quotes_are_fetched_when_it_is_chosen(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = overview(fake_api.url, monkeypatch)
    assert {"topics": [TOPICS[0]], "cells": "mentioned"} in fake_api.matrices
    assert {"topics": [TOPICS[1]], "cells": "mentioned"} not in fake_api.matrices
    at.selectbox(key="sitater_tema").select(TOPICS[1])
    at.run()
    assert fake_api.matrices[-1] == {"topics": [TOPICS[1]], "cells": "mentioned"}
    cards = next(e.value for e in at.get("html") if 'class="kilde"' in e.value)
    assert cards.count('class="kilde"') == len(SPEAKING)


# --- each document fetched once ---------------------------------------------------------------


def test_the_comparison_fetches_each_document_once(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_UI_API_URL", fake_api.url)
    at = AppTest.from_function(_compare_script, default_timeout=TIMEOUT)
    at.query_params.update(q=HOSTILE_QUESTION, s=[HOSTILE_ID, IMAGE_ID])
    at.run()
    assert not at.exception
    assert len(quotes_of(HOSTILE_ID)) == 2  # two quotes in one document: one fetch
    assert fake_api.count(f"GET /documents/{HOSTILE_ID}") == 1
    assert fake_api.count(f"GET /documents/{IMAGE_ID}") == 1
    columns = [e.value for e in at.get("html") if 'class="kolonne"' in e.value]
    assert all("<mark>" in column for column in columns)  # each quote in its paragraph
    at.run()
    assert fake_api.count(f"GET /documents/{HOSTILE_ID}") == 1  # the next render: none


class CountingDocuments(BaseHTTPRequestHandler):
    """GET /documents/{id} for any id, counted."""

    fetched: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        document_id = unquote(self.path.removeprefix("/documents/"))
        self.fetched.append(document_id)
        text = f"Innspill {document_id}.\n\nLegevakten må styrkes."
        body = json.dumps(
            {
                "document_id": document_id,
                "source": f"{document_id}.txt",
                "submitter": "X",
                "submitter_type": "kommune",
                "title": "T",
                "chars": len(text),
                "chunks": 1,
                "text": text,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def counting() -> Iterator[tuple[str, list[str]]]:
    fetched: list[str] = []
    handler = type("Handler", (CountingDocuments,), {"fetched": fetched})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", fetched
    finally:
        server.shutdown()
        server.server_close()


def test_each_document_is_fetched_once_however_many_quotes_name_it(
    counting: tuple[str, list[str]],
) -> None:
    """An answer page used to fetch GET /documents/{id} 217 times in one render: once per
    quote, and again whenever its cache of 64 documents had let one go."""
    url, fetched = counting
    settings = UiSettings(api_url=url)
    quoted = [f"d{n % 150}" for n in range(450)]  # 450 quotes from 150 documents
    texts = document_texts(settings, quoted)
    assert sorted(fetched) == sorted({*quoted})  # each once
    assert texts["d7"] == "Innspill d7.\n\nLegevakten må styrkes."
    document_texts(settings, reversed(quoted))  # the next render, in another order
    assert len(fetched) == 150


def test_a_document_that_cannot_be_fetched_has_no_text(closed_port_url: str) -> None:
    assert document_texts(UiSettings(api_url=closed_port_url), ["a", "a"]) == {"a": None}
