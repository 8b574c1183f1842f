"""File names and metadata fields as a hostile probe wrote them: terminal escapes, NUL, carriage
returns, bidi overrides and names that are not UTF-8. Names and metadata are cleaned as document
text is (rag/cleaning.py) before they reach the index, the report, the API and the suggested
metadata; a skipped file is named with its hidden characters escaped."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest
from fakes import FakeEmbedder

from indexer.build import build_index
from indexer.metadata import SUGGESTED_FILE_NAME, read_metadata
from indexer.report import format_report
from indexer.sources import NOT_UTF8_NAME
from rag.config import Settings
from rag.manifest import read_manifest
from rag.store import load_index

# Anything a terminal could act on or a reader could not see.
HIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\u00ad]")
HOSTILE_NAME = "moss\x1b[2J\r\u202egpj.exe.txt"
CLEAN_NAME = "moss[2J gpj.exe.txt"  # a carriage return is a line break: one space


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    folder = tmp_path / "innspill"
    folder.mkdir()
    (folder / HOSTILE_NAME).write_text(
        "Moss kommune viser til høringen.\n\nFastlegene har for mange pasienter.\n",
        encoding="utf-8",
    )
    (folder / "bergen.txt").write_text(
        "Innspill fra Bergen kommune\n\nLegevakten i Bergen har lange ventetider.\n",
        encoding="utf-8",
    )
    with (folder / "metadata.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("file", "submitter", "submitter_type", "title"))
        writer.writerow(
            (
                "bergen\u200b.txt",
                "Bergen\x1b[31m kommune\r\n",
                "\u202eKommune",
                "Innspill\x07 fra\rBergen",
            )
        )
    return folder


def test_names_and_metadata_reach_nothing_with_hidden_characters(
    sources: Path, tmp_settings: Settings
) -> None:
    out = tmp_settings.index.path
    report = build_index([sources], out, tmp_settings, FakeEmbedder)

    assert not HIDDEN.search(format_report(report)), format_report(report)
    manifest = read_manifest(out)
    rows = {(d.source, d.submitter, d.submitter_type, d.title) for d in manifest.documents}
    assert ("bergen.txt", "Bergen[31m kommune", "kommune", "Innspill fra Bergen") in rows
    assert CLEAN_NAME in {d.source for d in manifest.documents}
    for doc in load_index(out).documents.values():
        for value in (doc.source, doc.submitter, doc.submitter_type, doc.title):
            assert not HIDDEN.search(value), value


def test_the_suggested_metadata_reads_back_as_metadata_csv(
    sources: Path, tmp_settings: Settings
) -> None:
    out = tmp_settings.index.path
    first = build_index([sources], out, tmp_settings, FakeEmbedder)
    suggested = out / SUGGESTED_FILE_NAME
    assert not HIDDEN.search(suggested.read_text(encoding="utf-8").replace("\n", ""))
    rows = read_metadata(suggested)  # raises on a stray carriage return
    assert set(rows) == {CLEAN_NAME, "bergen.txt"}

    (sources / "metadata.csv").write_bytes(suggested.read_bytes())
    second = build_index([sources], out, tmp_settings, FakeEmbedder)
    assert second.submitters == first.submitters
    assert {d.submitter_origin for d in second.documents} == {"metadata.csv"}


def test_a_file_name_that_is_not_utf8_is_named_escaped_and_skipped(
    sources: Path, tmp_settings: Settings
) -> None:
    raw = os.path.join(os.fsencode(sources), b"innspill_\xff\xfe.txt")
    with open(raw, "wb") as handle:
        handle.write(b"Innspill fra Stange kommune\n\nTannhelsen trenger tannleger.\n")

    report = build_index([sources], tmp_settings.index.path, tmp_settings, FakeEmbedder)

    shown = f"{sources}{os.sep}innspill_\\xff\\xfe.txt"
    assert [(s.path, s.reason) for s in report.skipped] == [(shown, NOT_UTF8_NAME)]
    assert f"{shown}: {NOT_UTF8_NAME}" in format_report(report)
    assert len(report.documents) == 2
    skipped = read_manifest(tmp_settings.index.path).skipped
    assert [(s.path, s.reason) for s in skipped] == [(shown, NOT_UTF8_NAME)]


def test_a_skipped_file_is_named_with_its_hidden_characters_escaped(
    sources: Path, tmp_settings: Settings
) -> None:
    (sources / "evil\x1b]0;pwned\x07\u202e.exe").write_bytes(b"MZ")
    report = build_index([sources], tmp_settings.index.path, tmp_settings, FakeEmbedder)
    [skipped] = report.skipped
    assert skipped.path == f"{sources}{os.sep}evil\\x1b]0;pwned\\x07\\u202e.exe"
    assert not HIDDEN.search(format_report(report))


def test_nul_in_a_metadata_field_is_removed_like_other_control_characters(
    sources: Path, tmp_settings: Settings
) -> None:
    (sources / "metadata.csv").write_text(
        "file,submitter,submitter_type,title\nbergen.txt,Bergen\x00 kommune,kommune,Innspill\n",
        encoding="utf-8",
    )
    report = build_index([sources], tmp_settings.index.path, tmp_settings, FakeEmbedder)
    assert report.submitters["bergen.txt"] == "Bergen kommune"
