"""Where `rag index` may write: refused before any work when the index path holds anything but
an index this tool made (or nothing), lies in a source folder, or cannot be written."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fakes import FakeEmbedder

from cli.main import main
from indexer.build import build_index
from rag.config import Settings
from rag.errors import IndexPathRefused
from rag.store import load_index

TEXT = "Innspill fra Moss kommune\n\nFastlegene har for mange pasienter på listene sine.\n"


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    folder = tmp_path / "innspill"
    folder.mkdir()
    (folder / "moss.txt").write_text(TEXT, encoding="utf-8")
    return folder


class NeverEmbed:
    """An embedder factory that fails the test if a refused build got as far as embedding."""

    def __call__(self) -> FakeEmbedder:
        raise AssertionError("the build started although its --out is refused")


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


def refused(out: Path, sources: Path, settings: Settings, says: str) -> None:
    with pytest.raises(IndexPathRefused, match=says) as caught:
        build_index([sources], out, settings, NeverEmbed())
    assert "\n" not in str(caught.value)  # one line for the CLI


def test_a_folder_of_the_users_files_is_refused_and_left_alone(
    tmp_path: Path, sources: Path, tmp_settings: Settings
) -> None:
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "rapport.docx").write_bytes(b"PK\x03\x04 the user's report")
    (victim / "sub" / "notat.txt").write_text("mine notater", encoding="utf-8")
    before = snapshot(victim)

    refused(victim, sources, tmp_settings, r"folder of other files \(rapport.docx, sub/\)")

    assert not victim.is_symlink() and snapshot(victim) == before
    assert not (tmp_path / "victim.builds").exists()


def test_an_existing_file_is_refused_not_renamed(
    tmp_path: Path, sources: Path, tmp_settings: Settings
) -> None:
    target = tmp_path / "index"
    target.write_text("not an index", encoding="utf-8")
    refused(target, sources, tmp_settings, "is a file")
    assert target.read_text(encoding="utf-8") == "not an index"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index", "innspill"]  # no *.legacy-*


def test_the_sources_themselves_or_a_folder_inside_them_are_refused(
    sources: Path, tmp_settings: Settings
) -> None:
    before = snapshot(sources)
    refused(sources, sources, tmp_settings, "is the source folder")
    refused(sources / "index", sources, tmp_settings, "is inside the source folder")
    refused(sources / "a" / "b", sources, tmp_settings, "is inside the source folder")
    assert snapshot(sources) == before


def test_the_working_folder_is_refused_without_a_traceback(
    tmp_path: Path, sources: Path, tmp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    refused(Path("."), sources, tmp_settings, "not a folder name")
    refused(Path(".."), sources, tmp_settings, "not a folder name")
    monkeypatch.chdir(sources)
    refused(Path("."), sources, tmp_settings, "is the source folder")
    assert snapshot(tmp_path) == before


def test_a_link_rag_index_did_not_make_is_refused(
    tmp_path: Path, sources: Path, tmp_settings: Settings
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "index"
    link.symlink_to(elsewhere)
    refused(link, sources, tmp_settings, "symbolic link that rag index did not make")
    assert link.is_symlink() and link.resolve() == elsewhere


def test_an_impossible_target_is_refused_before_any_work(
    tmp_path: Path, sources: Path, tmp_settings: Settings
) -> None:
    (tmp_path / "fil.txt").write_text("x", encoding="utf-8")
    refused(tmp_path / "fil.txt" / "index", sources, tmp_settings, "fil.txt is a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to a read-only folder")
def test_a_read_only_folder_is_refused_before_any_work(
    tmp_path: Path, sources: Path, tmp_settings: Settings
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        refused(locked / "index", sources, tmp_settings, "is not writable")
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize(
    "prepare",
    [
        lambda out: None,  # absent
        lambda out: out.mkdir(),  # an empty folder
    ],
    ids=["absent", "empty folder"],
)
def test_absent_or_empty_targets_and_an_index_rag_index_made_are_written(
    tmp_path: Path,
    sources: Path,
    tmp_settings: Settings,
    prepare: Callable[[Path], None],
) -> None:
    out = tmp_path / "index"
    prepare(out)
    build_index([sources], out, tmp_settings, FakeEmbedder)
    assert out.is_symlink() and len(load_index(out).documents) == 1
    (sources / "bergen.txt").write_text(TEXT.replace("Moss", "Bergen"), encoding="utf-8")
    build_index([sources], out, tmp_settings, FakeEmbedder)  # its own index: rebuilt
    assert len(load_index(out).documents) == 2


def test_an_index_folder_of_the_old_layout_is_replaced(
    tmp_path: Path, sources: Path, tmp_settings: Settings
) -> None:
    built = tmp_path / "index"
    build_index([sources], built, tmp_settings, FakeEmbedder)
    old = tmp_path / "old"
    built.resolve().rename(old)  # a complete index as a plain folder, as older versions wrote
    (sources / "bergen.txt").write_text(TEXT.replace("Moss", "Bergen"), encoding="utf-8")
    build_index([sources], old, tmp_settings, FakeEmbedder)
    assert old.is_symlink() and len(load_index(old).documents) == 2


def test_rag_index_refuses_in_one_line_and_exits_1(
    tmp_path: Path, sources: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "rapport.docx").write_bytes(b"mine")
    assert main(["index", str(sources), "--out", str(victim)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"rag index: {victim} is a folder of other files (rapport.docx), not an index made by "
        "rag index; nothing was changed. Choose a new or empty folder for --out"
    ]
    assert (victim / "rapport.docx").read_bytes() == b"mine" and not victim.is_symlink()
