"""The UI's client types (ui/client.py) read every response of the real API.

The API's shapes are pydantic models in rag/schemas.py; the UI keeps its own frozen dataclasses
so that it talks HTTP only. This test is what keeps the two copies in step: the real app serves
the fake-embedder corpus on 127.0.0.1, the UI's client functions call it, and each response
must validate into the UI's types and carry every field they declare.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fakes import FakeEmbedder
from live_server import serving

from rag.api import create_app
from rag.config import MatrixSettings, Settings
from ui import client

if TYPE_CHECKING:
    from conftest import Corpus

QUESTIONS = {
    "high": "Hvem trenger flere tannleger?",
    "low": "Hva med legevakten om natten?",
    "none": "Xyzzy qwerty plugh?",
}


@pytest.fixture
def api(corpus: Corpus, tmp_path: Path) -> Iterator[str]:
    corpus.build()
    topics = tmp_path / "topics.txt"
    topics.write_text("fastlege\nlegevakt\n", encoding="utf-8")
    settings = Settings(
        index=corpus.settings.index,
        chunk=corpus.settings.chunk,
        matrix=MatrixSettings(topics_file=topics),
    )
    with serving(create_app(settings, FakeEmbedder)) as url:
        yield url


def raw(url: str, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, url + path, timeout=30, **kwargs)
    response.raise_for_status()
    return response.json()


def declared(kind: type[Any]) -> set[str]:
    return {f.name for f in dataclasses.fields(kind)}


def test_health_and_documents_match_the_ui_types(api: str) -> None:
    assert client.health(api).documents == 3
    assert declared(client.Health) <= raw(api, "GET", "/health").keys()
    infos = client.documents(api)
    assert {info.document_id for info in infos} == {"bergen", "moss", "more"}
    for body in raw(api, "GET", "/documents"):
        assert declared(client.DocumentInfo) <= body.keys()
    document = client.document(api, "bergen")
    assert document.text.startswith("Innspill fra Bergen kommune")
    assert declared(client.Document) <= raw(api, "GET", "/documents/bergen").keys()


@pytest.mark.parametrize("confidence", sorted(QUESTIONS))
def test_every_kind_of_answer_matches_the_ui_types(api: str, confidence: str) -> None:
    question = QUESTIONS[confidence]
    answer = client.ask(api, question)
    assert answer.confidence == confidence
    assert answer.no_answer == (confidence == "none")
    assert bool(answer.citations) == (confidence != "none")
    body = raw(api, "POST", "/ask", json={"question": question})
    assert declared(client.Answer) <= body.keys()
    for citation in body["citations"]:
        assert declared(client.Citation) <= citation.keys()


def test_matrix_topics_and_comparison_match_the_ui_types(api: str) -> None:
    topics = client.topics(api)
    assert topics == ("fastlege", "legevakt")
    matrix = client.matrix(api, topics)
    assert matrix.topics == topics and len(matrix.cells) == 2 * len(matrix.submitters)
    body = raw(api, "POST", "/matrix", json=client.matrix_body(topics, None))
    assert declared(client.Matrix) <= body.keys()
    for name, kind in [
        ("submitters", client.MatrixSubmitter),
        ("cells", client.MatrixCell),
        ("counts", client.TypeCount),
    ]:
        assert all(declared(kind) <= item.keys() for item in body[name]), name
    comparison = client.compare(api, QUESTIONS["low"], ("bergen", "moss"))
    assert [c.document_id for c in comparison.columns] == ["bergen", "moss"]
    request = {"question": QUESTIONS["low"], "document_ids": ["bergen", "moss"]}
    body = raw(api, "POST", "/compare", json=request)
    assert declared(client.Comparison) <= body.keys()
    assert all(declared(client.CompareColumn) <= column.keys() for column in body["columns"])


def test_the_trimmed_matrix_holds_the_marks_of_the_whole_one(api: str) -> None:
    topics = client.topics(api)
    whole = client.matrix(api, topics)
    marks = client.matrix(api, topics, cells="mentioned", quotes=False)
    mentioned = [c for c in whole.cells if c.mentioned]
    assert [(c.topic, c.document_id, c.start, c.end) for c in marks.cells] == [
        (c.topic, c.document_id, c.start, c.end) for c in mentioned
    ]
    assert all(c.quote is None and c.section is None for c in marks.cells)
    assert marks.counts == whole.counts


def test_the_listing_reads_the_real_documents_and_what_they_share(api: str) -> None:
    found = client.listing(api)
    ids = {d.document_id for d in found.documents}
    assert ids == {"bergen", "moss", "more"}
    assert found.sharing is None or set(found.sharing) == ids
