"""Files built to exhaust the indexer: a DOCX zip bomb, a PDF whose pages all re-read one large
content stream, a text too long to index. Each is named with the bound it passes and skipped,
quickly, and the rest of the corpus is indexed. The bombs are small and the bounds lowered, so
the tests stay fast."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fakes import FakeEmbedder
from source_files import write_docx, write_docx_bomb, write_pdf, write_reused_stream_pdf

from indexer.build import build_index
from indexer.sources import load_file
from rag.config import Settings, SourceSettings
from rag.errors import SourceError

MOSS = "Innspill fra Moss kommune\n\nFastlegene har for mange pasienter på listene sine.\n"


def limits(**bounds: float) -> SourceSettings:
    return SourceSettings(**bounds)  # type: ignore[arg-type]


def test_a_docx_that_unpacks_past_the_bound_is_refused_before_it_is_unpacked(
    tmp_path: Path,
) -> None:
    bomb = tmp_path / "bombe.docx"
    write_docx_bomb(bomb, unpacked=5_000_000)
    assert bomb.stat().st_size < 100_000
    started = time.perf_counter()
    with pytest.raises(SourceError, match=r"more than 2,000,000 bytes once unpacked"):
        load_file(bomb, limits(max_decompressed_bytes=2_000_000))
    assert time.perf_counter() - started < 10
    fine = tmp_path / "vanlig.docx"
    write_docx(fine, ["Fastlegene har for mange pasienter."])
    assert load_file(fine, limits(max_decompressed_bytes=2_000_000)).pages


def test_a_docx_that_declares_a_huge_size_is_refused_at_the_default_bound(tmp_path: Path) -> None:
    bomb = tmp_path / "bombe.docx"
    write_docx_bomb(bomb, unpacked=10_000, declared=4_000_000_000)
    with pytest.raises(SourceError, match="RAG_SOURCES__MAX_DECOMPRESSED_BYTES"):
        load_file(bomb)


def test_a_docx_that_unpacks_past_what_it_declares_is_unreadable(tmp_path: Path) -> None:
    bomb = tmp_path / "bombe.docx"
    write_docx_bomb(bomb, unpacked=5_000_000, declared=100)  # zipfile stops at 100 bytes
    with pytest.raises(SourceError, match="corrupt or unreadable DOCX"):
        load_file(bomb)


def test_a_pdf_reusing_one_stream_on_every_page_is_refused_by_what_it_unpacks(
    tmp_path: Path,
) -> None:
    bomb = tmp_path / "bombe.pdf"
    stream = write_reused_stream_pdf(bomb, pages=300, repeat=1000)
    assert bomb.stat().st_size < 60_000 and stream * 300 > 20_000_000  # the probe: 54 KB
    started = time.perf_counter()
    with pytest.raises(SourceError, match=r"more than 500,000 bytes once unpacked"):
        load_file(bomb, limits(max_decompressed_bytes=500_000))
    assert time.perf_counter() - started < 15  # 7 pages read, not 300


def test_a_file_that_takes_too_long_is_stopped_and_the_next_one_read(
    tmp_path: Path, tmp_settings: Settings
) -> None:
    sources = tmp_path / "innspill"
    sources.mkdir()
    write_reused_stream_pdf(sources / "bombe.pdf", pages=300, repeat=1000)  # about 30 s to read
    write_pdf(sources / "vanlig.pdf", ["Innspill fra Bergen kommune", "Legevakten er full."])
    (sources / "moss.txt").write_text(MOSS, encoding="utf-8")
    settings = tmp_settings.model_copy(update={"sources": limits(max_seconds=1.0)})

    started = time.perf_counter()
    report = build_index([sources], settings.index.path, settings, FakeEmbedder)

    assert time.perf_counter() - started < 20
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [
        ("bombe.pdf", "took more than 1 s to read (RAG_SOURCES__MAX_SECONDS); not read")
    ]
    assert sorted(d.source for d in report.documents) == ["moss.txt", "vanlig.pdf"]


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html"])
def test_a_text_past_the_character_cap_is_skipped(tmp_path: Path, suffix: str) -> None:
    big = tmp_path / f"lang{suffix}"
    big.write_text("Fastlegene har for mange pasienter. " * 200, encoding="utf-8")  # 7,200
    with pytest.raises(SourceError, match=r"more than 5,000 characters of text"):
        load_file(big, limits(max_text_chars=5_000))
    assert load_file(big, limits(max_text_chars=8_000)).pages


def test_a_text_file_far_past_the_cap_is_refused_by_its_size(tmp_path: Path) -> None:
    big = tmp_path / "lang.txt"
    big.write_bytes(b"x" * 50_001)  # more than 4 bytes for each of 12,500 characters
    with pytest.raises(SourceError, match="RAG_SOURCES__MAX_TEXT_CHARS"):
        load_file(big, limits(max_text_chars=12_500))


def test_pdf_and_docx_text_counts_against_the_cap(tmp_path: Path) -> None:
    pdf, document = tmp_path / "lang.pdf", tmp_path / "lang.docx"
    paragraphs = ["Fastlegene har for mange pasienter på listene sine i kommunen."] * 40
    write_pdf(pdf, paragraphs)
    write_docx(document, paragraphs)
    for path in (pdf, document):
        with pytest.raises(SourceError, match=r"more than 1,000 characters of text"):
            load_file(path, limits(max_text_chars=1_000))


def test_the_bounds_are_settings_the_build_uses(tmp_path: Path, tmp_settings: Settings) -> None:
    sources = tmp_path / "innspill"
    sources.mkdir()
    (sources / "moss.txt").write_text(MOSS, encoding="utf-8")
    (sources / "lang.txt").write_text("Legevakten er full. " * 500, encoding="utf-8")
    settings = tmp_settings.model_copy(update={"sources": limits(max_text_chars=1_000)})
    report = build_index([sources], settings.index.path, settings, FakeEmbedder)
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [
        (
            "lang.txt",
            "more than 1,000 characters of text (RAG_SOURCES__MAX_TEXT_CHARS); not indexed",
        )
    ]
    assert Settings().sources == SourceSettings(
        max_text_chars=2_000_000, max_decompressed_bytes=128 * 1024 * 1024, max_seconds=60.0
    )
