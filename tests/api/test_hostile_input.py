"""The hostile probe's requests over real HTTP (fake embedder, tiny corpus): hidden characters,
formulas in downloads, unparseable bodies, HEAD, a client that sends half a body, and Host
headers that name another server."""

from __future__ import annotations

import csv
import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes import FakeEmbedder, fake_corpus, fake_settings
from live_server import serving

from rag.api import create_app
from rag.config import ApiSettings
from rag.contract import MAX_QUESTION_CHARS
from rag.csv_cells import FORMULA_START

TEXTS = {
    "bergen.txt": "Innspill fra Bergen kommune\n\nLegevakten i Bergen har lange ventetider om "
    "natten. Fastlegeordningen er under press i Bergen.\n",
    "moss.txt": "Innspill fra Moss kommune\n\nLegevakten i Moss trenger flere sykepleiere. "
    "Samhandlingen med sykehuset fungerer godt.\n",
}
QUESTION = "Hvem trenger flere sykepleiere på legevakten?"
HIDDEN = ("lege\u200bvakten", "\u202elegevakten", "l\u00adegevakten", "lege\x1bvakten")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_corpus(tmp_path_factory.mktemp("hostile-api"), TEXTS)


def serve(folder: Path, **api: Any) -> Iterator[str]:
    with serving(create_app(fake_settings(folder, **api), FakeEmbedder)) as url:
        yield url


@pytest.fixture(scope="module")
def url(corpus: Path) -> Iterator[str]:
    yield from serve(corpus, body_timeout_s=1.0)


def without_timings(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "timings_ms"}


# --- hidden characters ---------------------------------------------------------------------


@pytest.mark.parametrize("hidden", HIDDEN)
def test_hidden_characters_give_the_same_answer_and_are_never_echoed(url: str, hidden: str) -> None:
    plain = httpx.post(f"{url}/ask", json={"question": QUESTION}).json()
    hostile = httpx.post(f"{url}/ask", json={"question": QUESTION.replace("legevakten", hidden)})
    assert without_timings(hostile.json()) == without_timings(plain)
    assert plain["citations"]
    search = httpx.get(f"{url}/search", params={"q": QUESTION.replace("legevakten", hidden)})
    assert search.json()["query"] == QUESTION
    ids = [d["document_id"] for d in httpx.get(f"{url}/documents").json()]
    compare = httpx.post(
        f"{url}/compare",
        json={"question": QUESTION.replace("legevakten", hidden), "document_ids": ids},
    )
    assert compare.json()["question"] == QUESTION


def test_topics_that_differ_by_a_hidden_character_are_one_topic(url: str) -> None:
    response = httpx.post(f"{url}/matrix", json={"topics": ["legevakt", "lege\u200bvakt"]})
    assert response.status_code == 422 and "gjentas: legevakt" in response.json()["detail"]


def test_a_filter_with_a_hidden_character_selects_the_submitter(url: str) -> None:
    body = {"question": QUESTION, "filters": {"submitter": ["Moss\u200b kommune"]}}
    answer = httpx.post(f"{url}/ask", json=body)
    assert answer.status_code == 200, answer.text
    assert {c["submitter"] for c in answer.json()["citations"]} == {"Moss kommune"}


# --- formulas in CSV downloads -------------------------------------------------------------


def csv_cells(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_downloads_carry_no_formula_from_a_question_or_a_topic(url: str) -> None:
    question = '=HYPERLINK("https://evil.example")&"Hvem trenger flere sykepleiere på legevakten?"'
    answer = csv_cells(
        httpx.post(f"{url}/ask", params={"format": "csv"}, json={"question": question})
    )
    topic = "+cmd|' /C calc'!A0 legevakten"
    matrix = csv_cells(
        httpx.post(f"{url}/matrix", params={"format": "csv"}, json={"topics": [topic]})
    )
    for table in (answer, matrix):
        assert len(table) > 1
        assert not [c for row in table for c in row if c.startswith(tuple(FORMULA_START))]
    assert {row[0] for row in answer[1:]} == {"'" + question}
    assert {row[0] for row in matrix[1:]} == {"'" + topic}


# --- the contract: bodies, schema, HEAD ----------------------------------------------------


@pytest.mark.parametrize(
    "body", [b'{"question": "\xff\xfe legevakt"}', b"\xc3\x28", b'{"question": "\\ud800"}']
)
def test_an_unparseable_body_is_422_as_documented(url: str, body: bytes) -> None:
    response = httpx.post(f"{url}/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(("Ugyldig forespørsel", "Spørsmålet"))


def test_the_schema_bounds_the_question(url: str) -> None:
    schema = httpx.get(f"{url}/openapi.json").json()
    components = schema["components"]["schemas"]
    bounds = {"minLength": 1, "maxLength": MAX_QUESTION_CHARS}
    for model in ("AskRequest", "CompareRequest"):
        question = components[model]["properties"]["question"]
        assert bounds.items() <= question.items(), question
    [q] = [p for p in schema["paths"]["/search"]["get"]["parameters"] if p["name"] == "q"]
    assert bounds.items() <= q["schema"].items()
    assert (
        httpx.post(f"{url}/ask", json={"question": "x" * (MAX_QUESTION_CHARS + 1)}).status_code
        == 422
    )


@pytest.mark.parametrize("path", ["/health", "/documents", "/topics", "/openapi.json", "/docs"])
def test_head_answers_every_get_route_without_a_body(url: str, path: str) -> None:
    get = httpx.get(f"{url}{path}")
    head = httpx.head(f"{url}{path}")
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert httpx.head(f"{url}/ask").status_code == 405  # POST only


# --- a client that sends half a body -------------------------------------------------------


def test_a_client_that_sends_half_a_body_is_cut_off(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    head = (
        "POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
    )
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=8) as conn:
        conn.sendall(head.encode("ascii") + b'{"question": "Hva sier de om')  # 28 of 100 bytes
        reply = b""
        while chunk := conn.recv(65536):  # until the server closes the connection
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408"), reply
    assert "kom ikke fram i tide" in reply.decode("utf-8")
    assert time.monotonic() - started < 6  # the body timeout is 1 s here


def test_keep_alive_and_body_timeouts_are_settings() -> None:
    api = ApiSettings()
    assert (api.body_timeout_s, api.keep_alive_s, api.allowed_hosts) == (10.0, 5, ())


# --- Host headers (DNS rebinding) ----------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example"])
def test_a_host_that_names_another_server_is_refused(url: str, host: str) -> None:
    response = httpx.get(f"{url}/documents", headers={"Host": host})
    assert response.status_code == 400
    assert "RAG_API__ALLOWED_HOSTS" in response.json()["detail"]
    assert "Moss" not in response.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST.", "[::1]", None])
def test_loopback_names_are_answered(url: str, host: str | None) -> None:
    port = url.rsplit(":", 1)[1]
    headers = {"Host": f"{host}:{port}"} if host else {}
    assert httpx.get(f"{url}/documents", headers=headers).status_code == 200


def test_configured_names_are_answered(corpus: Path) -> None:
    for url in serve(corpus, allowed_hosts=("rag.example.org",)):
        assert httpx.get(f"{url}/health", headers={"Host": "rag.example.org"}).status_code == 200
        assert httpx.get(f"{url}/health", headers={"Host": "evil.example"}).status_code == 400
    for url in serve(corpus, allowed_hosts=("*",)):
        assert httpx.get(f"{url}/health", headers={"Host": "evil.example"}).status_code == 200
