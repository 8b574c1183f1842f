"""ui.client.listing: GET /documents read once, with its optional template-letter fields."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ui.client import DocumentInfo, SharedText, Sharing, listing


def serve(documents: list[dict[str, Any]]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = json.dumps(documents).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


BASE = {
    "source": "x.txt",
    "submitter": "X",
    "submitter_type": "kommune",
    "title": "T",
    "chars": 10,
    "chunks": 1,
}


@pytest.fixture
def with_shared_text() -> Iterator[str]:
    docs = [
        BASE | {"document_id": "a", "shared_text": {"b": 0.6, "c": 0.95}, "near_duplicates": ["c"]},
        BASE | {"document_id": "b", "shared_text": {"a": 0.5}, "near_duplicates": []},
        BASE | {"document_id": "c", "shared_text": {}, "near_duplicates": ["a"]},
    ]
    yield from serve(docs)


@pytest.fixture
def without_shared_text() -> Iterator[str]:
    yield from serve([BASE | {"document_id": "a"}])


def test_shared_text_is_read_largest_share_first(with_shared_text: str) -> None:
    found = listing(with_shared_text)
    assert [d.document_id for d in found.documents] == ["a", "b", "c"]
    assert found.sharing == {
        "a": Sharing(("c",), (SharedText("c", 0.95, True), SharedText("b", 0.6, False))),
        "b": Sharing((), (SharedText("a", 0.5, False),)),
        "c": Sharing(("a",), ()),
    }


def test_an_api_without_shared_text_reports_none(without_shared_text: str) -> None:
    found = listing(without_shared_text)
    assert found.documents == (DocumentInfo("a", "x.txt", "X", "kommune", "T", 10, 1),)
    assert found.sharing is None
