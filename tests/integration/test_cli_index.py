"""`rag index` end to end with the real default embedder: the summary and the exit codes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import main
from rag.config import get_settings
from rag.store import load_index

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings read afresh, with the embedding cache and any default path inside tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAG_INDEX__CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_index_reports_chunks_per_second_and_the_skipped_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "aas.txt").write_text(
        "Innspill fra Ås kommune\n\nFastlegene har for mange pasienter på listene sine.\n",
        encoding="utf-8",
    )
    (sources / "broken.txt").write_bytes(b"")
    out = tmp_path / "index"

    assert main(["index", str(sources), "--out", str(out)]) == 0

    captured = capsys.readouterr()
    summary = captured.out
    assert "Embedding with intfloat/multilingual-e5-small" in captured.err  # the progress bar
    assert "chunks/s" in summary
    assert f"{sources / 'broken.txt'}: empty file (0 bytes)" in summary
    rows = [line.split() for line in summary.splitlines() if line.startswith("  aas.txt")]
    assert rows == [["aas.txt", "Ås", "kommune", "kommune", "avsenderlinje"]]
    # the one chunk and its sentences
    assert re.search(r"\b\d+ passages embedded \(none were in the cache\)\.", summary)
    assert len(load_index(out).documents) == 1
    assert (tmp_path / "cache" / "embeddings.sqlite").exists()


def test_index_exits_1_with_a_message_when_nothing_can_be_indexed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "scan.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    out = tmp_path / "index"

    assert main(["index", str(sources), "--out", str(out)]) == 1

    captured = capsys.readouterr()
    message = captured.err.strip().splitlines()[-1]
    assert message.startswith("rag index: nothing could be indexed")
    assert "scan.pdf" in message and "PDF" in message
    assert not out.exists()
