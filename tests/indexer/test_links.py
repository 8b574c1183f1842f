"""Symbolic links and odd entries in a source folder: a link may not take the indexer outside the
folder the user named, and nothing is dropped without a word. The same for metadata.csv, and
for metadata rows that name files the sources do not hold."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fakes import FakeEmbedder

from indexer.build import build_index
from indexer.report import format_report
from rag.config import Settings
from rag.manifest import read_manifest
from rag.store import load_index

MOSS = "Innspill fra Moss kommune\n\nFastlegene har for mange pasienter på listene sine.\n"
SECRET = "Hemmelig: passordet til serveren er hunter2. Dette skal aldri indekseres.\n"


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    folder = tmp_path / "innspill"
    (folder / "sub").mkdir(parents=True)
    (folder / "moss.txt").write_text(MOSS, encoding="utf-8")
    (folder / "sub" / "bergen.txt").write_text(MOSS.replace("Moss", "Bergen"), encoding="utf-8")
    return folder


def reasons(report_skipped: tuple[object, ...], folder: Path) -> dict[str, str]:
    return {
        os.path.relpath(s.path, folder): s.reason  # type: ignore[attr-defined]
        for s in report_skipped
    }


def test_links_out_of_the_folder_to_folders_or_to_nothing_are_skipped_and_named(
    tmp_path: Path, sources: Path, tmp_settings: Settings
) -> None:
    outside = tmp_path / "privat"
    outside.mkdir()
    (outside / "hemmelig.txt").write_text(SECRET, encoding="utf-8")
    (sources / "passwd.txt").symlink_to("/etc/passwd")
    (sources / "hemmelig.txt").symlink_to(outside / "hemmelig.txt")
    (sources / "privat").symlink_to(outside)
    (sources / "undermappe").symlink_to(sources / "sub")
    (sources / "borte.txt").symlink_to(tmp_path / "finnes-ikke.txt")
    (sources / "kopi.txt").symlink_to(sources / "moss.txt")  # inside: read, as moss.txt
    (sources / "sløyfe.txt").symlink_to(sources / "sløyfe.txt")

    report = build_index([sources], tmp_settings.index.path, tmp_settings, FakeEmbedder)

    assert reasons(report.skipped, sources) == {
        "passwd.txt": "symbolic link to a file outside the source folder; not read",
        "hemmelig.txt": "symbolic link to a file outside the source folder; not read",
        "privat": "symbolic link to a folder outside the source folder; not read",
        "undermappe": "symbolic link to a folder; not followed",
        "borte.txt": "broken symbolic link (its target does not exist)",
        "sløyfe.txt": "broken symbolic link (its target does not exist)",
    }
    index = load_index(tmp_settings.index.path)
    assert sorted(d.source for d in index.documents.values()) == ["bergen.txt", "moss.txt"]
    texts = " ".join(d.text for d in index.documents.values())
    assert "hunter2" not in texts and "root:" not in texts
    shown = format_report(report)
    for name in ("passwd.txt", "hemmelig.txt", "privat", "undermappe", "borte.txt"):
        assert f"{sources / name}: " in shown
    assert len(read_manifest(tmp_settings.index.path).skipped) == 6


def test_a_pipe_in_the_folder_is_skipped_not_read(sources: Path, tmp_settings: Settings) -> None:
    os.mkfifo(sources / "rør.txt")  # reading it would wait for a writer forever
    report = build_index([sources], tmp_settings.index.path, tmp_settings, FakeEmbedder)
    assert reasons(report.skipped, sources) == {
        "rør.txt": "not a regular file (a pipe, socket or device)"
    }


def test_a_metadata_csv_linked_out_of_the_folder_is_not_read_nor_echoed(
    sources: Path, tmp_settings: Settings
) -> None:
    (sources / "metadata.csv").symlink_to("/etc/passwd")
    report = build_index([sources], tmp_settings.index.path, tmp_settings, FakeEmbedder)
    assert reasons(report.skipped, sources) == {
        "metadata.csv": "symbolic link to a file outside the source folder; not read"
    }
    assert "root:" not in format_report(report)  # /etc/passwd's first line is not echoed
    assert {d.submitter_origin for d in report.documents} == {"avsenderlinje"}


def test_a_metadata_csv_that_is_a_folder_is_reported(sources: Path, tmp_settings: Settings) -> None:
    (sources / "metadata.csv").mkdir()
    report = build_index([sources], tmp_settings.index.path, tmp_settings, FakeEmbedder)
    assert reasons(report.skipped, sources) == {
        "metadata.csv": "metadata.csv is a folder, not a file; no submitters read from it"
    }
    assert f"{sources / 'metadata.csv'}: metadata.csv is a folder" in format_report(report)


def test_metadata_rows_naming_files_that_are_not_there_are_listed(
    sources: Path, tmp_settings: Settings
) -> None:
    (sources / "metadata.csv").write_text(
        "file,submitter,submitter_type,title\n"
        "moss.txt,Moss kommune,kommune,Innspill fra Moss\n"
        "mos.txt,Moss kommune,kommune,Feilstavet\n"
        "stange.pdf,Stange kommune,kommune,Fjernet\n",
        encoding="utf-8",
    )
    out = tmp_settings.index.path
    report = build_index([sources], out, tmp_settings, FakeEmbedder)
    assert report.unmatched_metadata == ("mos.txt", "stange.pdf")
    assert read_manifest(out).unmatched_metadata == ("mos.txt", "stange.pdf")
    shown = format_report(report)
    assert "metadata.csv names 2 file(s) not found in the sources" in shown
    assert "\n  mos.txt\n  stange.pdf" in shown

    again = build_index([sources], out, tmp_settings, FakeEmbedder)
    assert again.unchanged and again.unmatched_metadata == ("mos.txt", "stange.pdf")
    (sources / "metadata.csv").write_text(
        "file,submitter,submitter_type,title\nmoss.txt,Moss kommune,kommune,Innspill\n",
        encoding="utf-8",
    )
    fixed = build_index([sources], out, tmp_settings, FakeEmbedder)
    assert fixed.unmatched_metadata == () == read_manifest(out).unmatched_metadata
