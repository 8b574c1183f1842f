"""Safe by default and honest about its state, over real HTTP (fake embedder, tiny corpus).

A request body above the limit is refused before it is read whole; /admin/reload needs a token
and refuses cross-origin posts; /health reports a build that could not be loaded; /docs works
offline.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from fakes import FakeEmbedder
from live_server import serving

from indexer.build import build_index
from rag import vector_index
from rag.api import create_app
from rag.config import ApiSettings, ChunkSettings, IndexSettings, Settings
from rag.manifest import MANIFEST, DocumentEntry, EncoderEntry, Manifest
from rag.sentence_layer import SENTENCE_VECTORS
from rag.store import file_sha256, point_at, rebuild_hint

TOKEN = "s3kret-token-for-tests"
TEXTS = {
    "bergen.txt": "Innspill fra Bergen kommune\n\nFastlegeordningen er under press i Bergen.\n",
    "moss.txt": "Innspill fra Moss kommune\n\nSamhandlingen med sykehuset fungerer godt.\n",
    "more.txt": "Innspill fra Møre og Romsdal fylkeskommune\n\nTannhelsen trenger tannleger.\n",
}


def settings_in(folder: Path, **api: object) -> Settings:
    """Settings with the index at the relative path `index` (the tests run inside `folder`)."""
    index = IndexSettings(path=Path("index"), cache_dir=folder / "cache")
    return Settings(index=index, api=ApiSettings(**api))  # type: ignore[arg-type]


def write_corpus(folder: Path, names: list[str]) -> Path:
    corpus = folder / "innspill"
    corpus.mkdir(exist_ok=True)
    for old in corpus.iterdir():
        old.unlink()
    for name in names:
        (corpus / name).write_text(TEXTS[name], encoding="utf-8")
    return corpus


def build(folder: Path, settings: Settings, names: list[str]) -> Path:
    build_index([write_corpus(folder, names)], settings.index.path, settings, FakeEmbedder)
    return settings.index.path.resolve()


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def indexed(in_tmp: Path) -> Settings:
    settings = settings_in(in_tmp, admin_token=TOKEN)
    build(in_tmp, settings, ["bergen.txt", "moss.txt"])
    return settings


def serve(settings: Settings) -> Iterator[str]:
    with serving(create_app(settings, FakeEmbedder)) as url:
        yield url


@pytest.fixture
def url(indexed: Settings) -> Iterator[str]:
    yield from serve(indexed)


def admin(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- request body limit --------------------------------------------------------------------


def raw_request(url: str, head: str, body_parts: list[bytes]) -> str:
    """Send a request head and some body bytes (never the whole body); return what comes back."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(head.encode("ascii"))
        for part in body_parts:
            conn.sendall(part)
        reply = b""
        while not re.search(rb"\r\n\r\n.*\}", reply, re.DOTALL):  # the head and a JSON body
            received = conn.recv(65536)
            if not received:
                break
            reply += received
        return reply.decode("utf-8", "replace")


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(url: str) -> None:
    head = (
        "POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 300000000\r\n\r\n"
    )
    started = time.perf_counter()
    reply = raw_request(url, head, [b'{"question": "'])  # 300 MB announced, 14 bytes sent
    assert reply.startswith("HTTP/1.1 413"), reply
    assert "maks 65536 byte" in reply
    assert time.perf_counter() - started < 5


def test_a_streamed_body_is_refused_once_it_passes_the_limit(url: str) -> None:
    head = (
        "POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 16384
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    reply = raw_request(url, head, [framed] * 5)  # 80 KiB of an endless body, no last chunk
    assert reply.startswith("HTTP/1.1 413"), reply
    assert json.loads(reply.split("\r\n\r\n", 1)[1])["detail"].startswith("Forespørselen er for")


def test_bodies_under_the_limit_are_read_and_the_limit_is_a_setting(in_tmp: Path) -> None:
    settings = settings_in(in_tmp, max_body_bytes=4096)
    body = json.dumps({"question": "fastlege " * 400})  # about 3.6 KB: under 4 KiB
    for url in serve(settings):
        assert httpx.post(f"{url}/ask", content=body).status_code != 413
        response = httpx.post(f"{url}/ask", content=body + " " * 1000)
        assert response.status_code == 413 and "4096" in response.json()["detail"]


# --- admin token and cross-origin posts ----------------------------------------------------


def test_admin_reload_is_off_without_a_token(in_tmp: Path) -> None:
    settings = settings_in(in_tmp)
    build(in_tmp, settings, ["bergen.txt"])
    for url in serve(settings):
        response = httpx.post(f"{url}/admin/reload", headers=admin())
        assert response.status_code == 403
        assert "RAG_API__ADMIN_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize("headers", [{}, admin("wrong"), {"Authorization": TOKEN}])
def test_admin_reload_needs_the_token(url: str, headers: dict[str, str]) -> None:
    response = httpx.post(f"{url}/admin/reload", headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"


def test_admin_reload_with_the_token(url: str) -> None:
    response = httpx.post(f"{url}/admin/reload", headers=admin())
    assert response.status_code == 200 and response.json()["documents"] == 2


def test_cross_origin_posts_to_admin_are_refused(url: str) -> None:
    evil = httpx.post(f"{url}/admin/reload", headers=admin() | {"Origin": "http://evil.example"})
    assert evil.status_code == 403, evil.text
    own = f"http://{urlsplit(url).netloc}"
    assert httpx.post(f"{url}/admin/reload", headers=admin() | {"Origin": own}).status_code == 200


def test_cors_stays_off_by_default(url: str) -> None:
    preflight = httpx.options(
        f"{url}/admin/reload",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


# --- health tells the truth ----------------------------------------------------------------


def scramble(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 32] = bytes(range(32))
    file.write_bytes(bytes(data))


def test_a_build_that_cannot_be_loaded_makes_health_degraded(
    in_tmp: Path, indexed: Settings, url: str
) -> None:
    http = httpx.Client(base_url=url, timeout=30)
    first = indexed.index.path.resolve()
    health = http.get("/health").json()
    assert (health["status"], health["documents"], health["last_reload_error"]) == ("ok", 2, None)
    broken = build(in_tmp, indexed, ["bergen.txt", "moss.txt", "more.txt"])
    scramble(broken / "vectors.faiss")

    assert len(http.get("/documents").json()) == 2  # the previous build stays in service
    health = http.get("/health").json()
    assert health["status"] == "degraded" and health["documents"] == 2
    error = health["last_reload_error"]
    assert "vectors.faiss" in error and "rag index" in error
    assert "bergen.txt, moss.txt, more.txt" in error or "bergen.txt, more.txt, moss.txt" in error
    assert str(in_tmp) not in error and "index.builds" not in error  # no absolute paths
    assert "seeds" not in error  # never suggests the seeds for another corpus

    reload = http.post("/admin/reload", headers=admin())
    assert reload.status_code == 503
    assert "vectors.faiss" in reload.json()["detail"] and str(in_tmp) not in reload.text

    point_at(indexed.index.path, first)  # rolled back to the build in service: healthy
    assert http.get("/health").json()["status"] == "ok"
    point_at(indexed.index.path, broken)
    assert http.get("/health").json()["status"] == "degraded"

    build(in_tmp, indexed, ["bergen.txt", "moss.txt", "more.txt"])  # a good build again
    for _ in range(200):  # /health loads it in the background, without waiting for it
        health = http.get("/health").json()
        if health["documents"] == 3:
            break
        time.sleep(0.05)
    assert health["status"] == "ok" and health["last_reload_error"] is None
    assert health["documents"] == 3


def widen_sentence_vectors(build_folder: Path, columns: int) -> None:
    """Give the sentence vector index other columns and the manifest its new hash, as a
    buggy build would: every file checks out, only the widths disagree."""
    path = build_folder / SENTENCE_VECTORS
    stored = vector_index.load(path, mmap=False)
    rows = stored.vectors(np.arange(stored.size))
    vector_index.build(np.ascontiguousarray(rows[:, :1].repeat(columns, 1)), stored.spec).save(path)
    manifest = json.loads((build_folder / MANIFEST).read_text(encoding="utf-8"))
    for name in (path, vector_index.spec_path(path)):
        if name.name in manifest["files"]:
            manifest["files"][name.name] = file_sha256(name)
    (build_folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def test_a_build_whose_vector_widths_disagree_is_not_served(
    in_tmp: Path, indexed: Settings, url: str
) -> None:
    http = httpx.Client(base_url=url, timeout=30)
    question = {"question": "Hva sier de om fastlegeordningen?"}
    assert http.post("/ask", json=question).status_code == 200
    broken = build(in_tmp, indexed, ["bergen.txt", "moss.txt", "more.txt"])
    widen_sentence_vectors(broken, 100)

    health = http.get("/health").json()
    for _ in range(200):  # the new build is tried in the background
        if health["status"] == "degraded":
            break
        time.sleep(0.05)
        health = http.get("/health").json()
    assert health["status"] == "degraded" and health["documents"] == 2
    assert "sentence_vectors.faiss har vektorer med 100 dimensjoner" in health["last_reload_error"]
    answer = http.post("/ask", json=question)  # the good build answers on
    assert answer.status_code == 200, answer.text


def test_without_a_loadable_index_health_is_503_with_a_relative_hint(in_tmp: Path) -> None:
    for url in serve(settings_in(in_tmp)):
        response = httpx.get(f"{url}/health")
        assert response.status_code == 503
        detail = response.json()["detail"]
        assert "rag index <kilder> --out index" in detail and "seeds" not in detail


# --- offline docs --------------------------------------------------------------------------

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_load_only_local_assets(url: str, page: str) -> None:
    html = httpx.get(f"{url}{page}").text
    assets = ASSET.findall(html)
    assert assets, html
    assert all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    assert "http://" not in html.replace("http://127.0.0.1", "")
    assert "https://" not in html
    for asset in assets:
        response = httpx.get(f"{url}{asset}")
        assert response.status_code == 200 and len(response.content) > 1000, asset


def manifest_of(paths: tuple[str, ...], sources: list[str]) -> Manifest:
    entries = tuple(
        DocumentEntry(
            source=name,
            document_id=name,
            content_hash="0",
            submitter=name,
            submitter_type="ukjent",
            submitter_origin="filnavn",
            title=name,
        )
        for name in sources
    )
    return Manifest(
        embedding_model="m",
        embedding_engine="b",
        embedding_identity="b:m",
        dimension=4,
        encoders=(
            EncoderEntry(model="m", engine="b", precision="fp32", identity="b:m", dimension=4),
        ),
        vector_indexes={},
        chunk_settings=ChunkSettings(),
        source_paths=paths,
        documents=entries,
    )


def test_the_rebuild_hint_repeats_what_the_index_was_built_from() -> None:
    out = Path("data/my index")
    built = manifest_of(("innspill/2026", "ekstra.pdf"), ["a.txt"])
    assert rebuild_hint(out, built).endswith(
        "(a.txt): rag index innspill/2026 ekstra.pdf --out 'data/my index'"
    )
    many = manifest_of((), [f"{i:02}.txt" for i in range(8)])
    assert "(00.txt, 01.txt, 02.txt, 03.txt, 04.txt og 3 til)" in rebuild_hint(out, many)
    for hint in (rebuild_hint(out, many), rebuild_hint(out)):
        assert "rag index <kilder> --out 'data/my index'" in hint and "seeds" not in hint
    outside = manifest_of(("/srv/hemmelig/innspill",), ["a.txt"])
    assert "/srv/hemmelig" not in rebuild_hint(out, outside)
    assert "rag index '…/innspill' --out" in rebuild_hint(out, outside)
