"""A damaged index: the API keeps running and answers 503 naming the file, and logs it once."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from live_server import serving, settings_for

from rag.api import create_app

pytestmark = pytest.mark.slow

Damage = Callable[[Path], None]


def truncate(file: Path) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


def scramble(file: Path) -> None:
    data = bytearray(file.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(range(64))
    file.write_bytes(bytes(data))


def garble(file: Path) -> None:
    file.write_text("{ this is not json", encoding="utf-8")


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def forget_hashes_and_truncate_chunks(index: Path) -> None:
    """A manifest without file hashes (so nothing is verified) over a broken chunks file."""
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"]
    (index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (index / "chunks.jsonl").write_text('{"chunk_id": "x", "start": ', encoding="utf-8")


DAMAGES: list[tuple[str, str, Damage]] = [
    ("chunks.jsonl", "chunks.jsonl", truncate),
    ("chunks.jsonl", "chunks.jsonl", remove),
    ("documents.jsonl", "documents.jsonl", scramble),
    ("vectors.faiss", "vectors.faiss", scramble),
    ("vectors.faiss", "vectors.faiss", truncate),
    ("manifest.json", "manifest.json", garble),
    ("manifest.json", "manifest.json", truncate),
    ("manifest.json", "manifest.json", remove),
    ("bm25", "bm25/", remove),
    ("bm25/vocab.index.json", "vocab.index.json", remove),
    (".", "chunks.jsonl", forget_hashes_and_truncate_chunks),
]


def requests_to_every_route(url: str) -> list[httpx.Response]:
    with httpx.Client(base_url=url) as client:
        return [
            client.get("/health"),
            client.post("/ask", json={"question": "Hva sier kommunene om fastlegeordningen?"}),
            client.get("/search", params={"q": "fastlege"}),
            client.get("/documents"),
            client.get("/documents/003_3d69ec6ad6cea8a3"),
            client.get("/health"),
        ]


@pytest.mark.parametrize(
    ("target", "named", "damage"),
    DAMAGES,
    ids=[f"{damage.__name__}-{target}" for target, _, damage in DAMAGES],
)
def test_a_damaged_file_is_named_in_every_503_and_logged_once(
    seeds_index: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    target: str,
    named: str,
    damage: Damage,
) -> None:
    index = tmp_path / "index"
    shutil.copytree(seeds_index.resolve(), index)
    damage(index / target)
    app = create_app(settings_for(index))
    with caplog.at_level(logging.INFO, logger="rag"), serving(app) as url:
        responses = requests_to_every_route(url)
    for response in responses:
        assert response.status_code == 503, response.text
        detail = response.json()["detail"]
        assert named in detail and "rag index" in detail, detail
        assert "Traceback" not in detail
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(named in message for message in errors), errors
    loads = [m for m in errors if m.startswith("cannot load index")]
    assert len(loads) == 1, loads  # tried once at startup, not again on every request


def test_a_repaired_index_is_served_after_a_reload(seeds_index: Path, tmp_path: Path) -> None:
    token = "corrupt-test-token"
    index = tmp_path / "index"
    shutil.copytree(seeds_index.resolve(), index)
    original = (index / "chunks.jsonl").read_bytes()
    truncate(index / "chunks.jsonl")
    app = create_app(settings_for(index, admin_token=token))
    with serving(app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/health").status_code == 503
        (index / "chunks.jsonl").write_bytes(original)
        assert client.get("/health").status_code == 503  # a damaged build is not re-read by itself
        reloaded = client.post(
            "/admin/reload", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        assert reloaded.status_code == 200 and reloaded.json()["documents"] == 5
        assert client.get("/health").json()["documents"] == 5
