"""The index on disk: round trip, refusing mismatched or damaged indexes, atomic replacement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest
from fakes import FakeEmbedder

from indexer.build import document_entry
from indexer.chunk import chunk_document
from indexer.clean import clean_pages
from rag.bm25 import Bm25Index, tokenize
from rag.config import ChunkSettings
from rag.encoders import EncoderSet
from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from rag.manifest import MANIFEST, EncoderEntry, Manifest
from rag.sentence_layer import SENTENCE_VECTORS, SENTENCES, SentenceLayer, split_sentences
from rag.store import (
    CHUNKS,
    DOCUMENTS,
    KEEP_BUILDS,
    STAGING_PREFIX,
    STALE_STAGING_SECONDS,
    VECTORS,
    check_compatible,
    file_sha256,
    load_index,
    read_jsonl,
    read_manifest,
    serving_encoders,
    stored_vectors,
    write_index,
)
from rag.types import Chunk, Document
from rag.vector_index import build, choose_spec
from rag.vector_index import load as load_vectors
from rag.vocabulary import VOCABULARY, VOCABULARY_VECTORS, Vocabulary, corpus_words

CHUNKING = ChunkSettings(size=120, overlap=20)
PAGES = {
    "moss.pdf": [
        "Innspill fra Moss kommune\n\nSamhandling\nFastlegene har for mange pasienter og "
        "kommunene trenger flere fastleger.\n",
        "Digitalisering\nJournalsystemene må snakke sammen på tvers av nivåene.\n",
    ],
    "stange.txt": [
        "Psykisk helse- og rus\nKommunen ser et økende behov for tjenester til unge med "
        "psykiske lidelser. Ventetiden er for lang.\n"
    ],
}


def make_documents() -> list[Document]:
    documents = []
    for source, pages in PAGES.items():
        cleaned, page_starts = clean_pages(pages)
        documents.append(
            Document(
                document_id=source.split(".")[0],
                source=source,
                submitter=f"{source.split('.')[0].title()} kommune",
                submitter_type="kommune",
                title=f"Innspill fra {source}",
                text=cleaned.text,
                content_hash=f"hash-{source}",
                sections=cleaned.sections,
                page_starts=page_starts if source.endswith(".pdf") else (),
            )
        )
    return documents


INDEXES = ("chunks", "sentences", "vocabulary")


def write_small_index(
    path: Path, embedder: FakeEmbedder, documents: list[Document] | None = None
) -> tuple[list[Document], list[Chunk], np.ndarray]:
    documents = documents if documents is not None else make_documents()
    chunks = [c for d in documents for c in chunk_document(d, CHUNKING)]
    vectors = embedder.embed_passages([c.text for c in chunks])
    sentences = tuple(split_sentences(documents, chunks))
    by_id = {d.document_id: d for d in documents}
    sentence_vectors = embedder.embed_passages(
        [by_id[s.document_id].text[s.start : s.end] for s in sentences]
    )
    words = corpus_words(documents)
    manifest = Manifest(
        embedding_model=embedder.model_name,
        embedding_engine=embedder.backend,
        embedding_precision=embedder.precision,
        embedding_identity=embedder.identity,
        dimension=embedder.dimension,
        encoders=(
            EncoderEntry(
                model=embedder.model_name,
                engine=embedder.backend,
                precision=embedder.precision,
                identity=embedder.identity,
                dimension=embedder.dimension,
            ),
        ),
        vector_indexes={name: choose_spec(1, embedder.dimension) for name in INDEXES},
        chunk_settings=CHUNKING,
        source_paths=("sources",),
        documents=tuple(document_entry(d) for d in documents),
        chunks=len(chunks),
        sentences=len(sentences),
        vocabulary=len(words),
    )
    layer = SentenceLayer.built(sentences, sentence_vectors, [slice(None)])
    vocabulary = Vocabulary.built(words, embedder.embed_passages(words))
    chunk_index = build(vectors, choose_spec(len(vectors), embedder.dimension))
    write_index(path, documents, chunks, chunk_index, layer, vocabulary, manifest)
    return documents, chunks, vectors


@pytest.fixture
def index_path(tmp_path: Path, fake_embedder: FakeEmbedder) -> Path:
    path = tmp_path / "index"
    write_small_index(path, fake_embedder)
    return path


# --- round trip --------------------------------------------------------------------------


def test_round_trip_gives_back_what_was_written(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    path = tmp_path / "index"
    documents, chunks, vectors = write_small_index(path, fake_embedder)
    stored = load_index(path)
    assert stored.documents == {d.document_id: d for d in documents}
    assert stored.chunks == tuple(chunks)
    assert any(c.page == 2 for c in stored.chunks)  # pages and sections survive
    assert any(c.section == "Digitalisering" for c in stored.chunks)
    np.testing.assert_allclose(stored_vectors(stored), vectors, rtol=0, atol=1e-7)
    query = tokenize("flere fastleger i kommunene")
    fresh = Bm25Index.build([c.text for c in chunks]).scores(query)
    np.testing.assert_allclose(stored.bm25.scores(query), fresh, rtol=1e-6)
    assert stored.bm25.scores(query).max() > 0
    assert stored.manifest.embedding_identity == "fake:hashed-words-64"
    assert [d.document_id for d in stored.manifest.documents] == ["moss", "stange"]
    assert stored.manifest.chunks == len(chunks)
    assert read_manifest(path) == stored.manifest  # written and read by one model
    written = split_sentences(documents, chunks)
    assert stored.sentences.sentences == tuple(written)
    assert stored.manifest.sentences == len(written) > len(chunks) // 2
    by_id = {d.document_id: d for d in documents}
    texts = [by_id[s.document_id].text[s.start : s.end] for s in written]
    np.testing.assert_array_equal(stored.sentences.vectors, fake_embedder.embed_passages(texts))
    assert stored.vocabulary.words == corpus_words(documents)
    assert stored.manifest.vocabulary == len(stored.vocabulary.words) > 0
    words = list(stored.vocabulary.words)
    stored_words = stored.vocabulary.index.vectors(np.arange(len(words)))
    np.testing.assert_array_equal(stored_words, fake_embedder.embed_passages(words))
    assert set(stored.manifest.vector_indexes) == set(INDEXES)


def test_chunk_text_is_not_stored_twice(index_path: Path) -> None:
    records = read_jsonl(index_path / CHUNKS)
    assert records and all("text" not in r for r in records)


# --- compatibility -----------------------------------------------------------------------


def test_matching_settings_are_accepted(index_path: Path, fake_embedder: FakeEmbedder) -> None:
    manifest = read_manifest(index_path)
    check_compatible(manifest, index_path, CHUNKING)
    serving = serving_encoders(manifest, index_path, EncoderSet([fake_embedder]))
    assert serving.members == (fake_embedder,) and not serving.missing


def test_another_embedding_model_is_refused_with_a_rebuild_hint(index_path: Path) -> None:
    manifest = read_manifest(index_path)
    other = EncoderSet([FakeEmbedder(name="other-words")])
    with pytest.raises(IndexMismatch) as caught:
        serving_encoders(manifest, index_path, other)
    message = str(caught.value)
    assert "rag index" in message
    assert "fake:hashed-words-64" in message and "other-words" in message


def test_a_model_of_another_width_is_refused(index_path: Path) -> None:
    manifest = read_manifest(index_path)
    wider = EncoderSet([FakeEmbedder(dimension=64)])
    wider.members[0].dimension = 65  # the same identity, vectors of another width
    with pytest.raises(IndexMismatch, match="65"):
        serving_encoders(manifest, index_path, wider)


def test_other_chunk_settings_are_refused_with_a_rebuild_hint(index_path: Path) -> None:
    manifest = read_manifest(index_path)
    with pytest.raises(IndexMismatch, match="rag index"):
        check_compatible(manifest, index_path, ChunkSettings(size=500))


def test_another_schema_version_is_refused(index_path: Path) -> None:
    manifest_file = index_path / MANIFEST
    manifest = json.loads(manifest_file.read_text())
    manifest_file.write_text(json.dumps({**manifest, "schema_version": 999}))
    with pytest.raises(IndexMismatch, match="rag index"):
        load_index(index_path)


# --- missing and damaged indexes ---------------------------------------------------------


def test_no_index_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match="rag index"):
        load_index(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexNotFound):
        load_index(tmp_path / "empty")


@pytest.mark.parametrize(
    "name",
    [
        *(DOCUMENTS, CHUNKS, VECTORS, "bm25/params.index.json", SENTENCES, SENTENCE_VECTORS),
        *(VOCABULARY, VOCABULARY_VECTORS),
    ],
)
def test_a_truncated_file_is_named(index_path: Path, name: str) -> None:
    damaged = index_path / name
    assert damaged.exists()
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    with pytest.raises(IndexCorrupt) as caught:
        load_index(index_path)
    message = str(caught.value)
    assert name in message and str(index_path.resolve()) not in message  # relative to the index
    assert "rag index sources --out" in message  # the sources the index was built from


@pytest.mark.parametrize(
    "name", [CHUNKS, VECTORS, SENTENCES, SENTENCE_VECTORS, VOCABULARY, VOCABULARY_VECTORS]
)
def test_a_deleted_file_is_named(index_path: Path, name: str) -> None:
    (index_path / name).unlink()
    with pytest.raises(IndexCorrupt, match="mangler") as caught:
        load_index(index_path)
    assert name in str(caught.value)
    assert str(index_path.resolve()) not in str(caught.value)


def rewrite_consistently(index_path: Path, name: str, data: bytes, **manifest_changes: Any) -> None:
    """Replace an index file and update the manifest's hash of it, as a buggy build might:
    the hash check passes, so only the reader's own consistency checks can catch it."""
    (index_path / name).write_bytes(data)
    manifest_file = index_path / MANIFEST
    manifest = json.loads(manifest_file.read_text())
    manifest["files"][name] = file_sha256(index_path / name)
    manifest_file.write_text(json.dumps({**manifest, **manifest_changes}))


def test_a_sentences_file_that_lost_lines_is_refused(index_path: Path) -> None:
    lines = (index_path / SENTENCES).read_bytes().splitlines(keepends=True)
    rewrite_consistently(index_path, SENTENCES, b"".join(lines[:-1]))
    with pytest.raises(IndexCorrupt, match=SENTENCE_VECTORS) as caught:
        load_index(index_path)
    assert f"holds {len(lines)} rows, expected {len(lines) - 1}" in str(caught.value)


def index_bytes(vectors: np.ndarray) -> bytes:
    """A flat vector index of these rows, as its file holds it."""
    built = build(np.ascontiguousarray(vectors, dtype=np.float32), choose_spec(1, vectors.shape[1]))
    return bytes(faiss.serialize_index(built.index))


@pytest.mark.parametrize("name", [SENTENCE_VECTORS, VOCABULARY_VECTORS])
def test_a_vector_index_of_another_number_of_rows_is_refused(index_path: Path, name: str) -> None:
    rows = load_vectors(index_path / name)
    fewer = rows.vectors(np.arange(rows.size - 1))
    rewrite_consistently(index_path, name, index_bytes(fewer))
    with pytest.raises(IndexCorrupt, match=name):
        load_index(index_path)


@pytest.mark.parametrize(
    ("name", "field", "unit"),
    [(SENTENCES, "sentences", "setninger"), (VOCABULARY, "vocabulary", "ord")],
)
def test_a_count_other_than_the_manifests_is_refused(
    index_path: Path, name: str, field: str, unit: str
) -> None:
    count = getattr(read_manifest(index_path), field)
    content = (index_path / name).read_bytes()
    rewrite_consistently(index_path, name, content, **{field: count + 1})
    with pytest.raises(IndexCorrupt, match=f"{count} {unit}, manifestet sier {count + 1}"):
        load_index(index_path)


def test_a_vocabulary_that_is_not_a_list_of_words_is_refused(index_path: Path) -> None:
    rewrite_consistently(index_path, VOCABULARY, b'{"ord": 1}')
    with pytest.raises(IndexCorrupt, match=VOCABULARY):
        load_index(index_path)


def test_an_unreadable_manifest_is_named(index_path: Path) -> None:
    (index_path / MANIFEST).write_text('{"schema_version": 3, "files": ')
    with pytest.raises(IndexCorrupt, match=f"Indeksfilen {MANIFEST} kan ikke leses"):
        load_index(index_path)


def test_a_manifest_without_a_required_field_is_corrupt_and_names_the_field(
    index_path: Path,
) -> None:
    manifest = json.loads((index_path / MANIFEST).read_text())
    del manifest["embedding_identity"]
    (index_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexCorrupt) as caught:
        load_index(index_path)
    message = str(caught.value)
    assert f"Indeksfilen {MANIFEST} er ugyldig" in message and "embedding_identity" in message
    assert str(index_path.resolve()) not in message


def test_a_missing_manifest_beside_index_files_is_corrupt(index_path: Path) -> None:
    (index_path / MANIFEST).unlink()
    with pytest.raises(IndexCorrupt, match=f"Indeksfilen {MANIFEST} mangler"):
        load_index(index_path)


# --- atomic replacement ------------------------------------------------------------------


def test_the_index_path_is_a_symlink_to_a_complete_build(index_path: Path) -> None:
    assert index_path.is_symlink()
    build = index_path.resolve()
    assert build.parent == index_path.parent / "index.builds"
    expected = {MANIFEST, DOCUMENTS, CHUNKS, VECTORS, "bm25", SENTENCES, SENTENCE_VECTORS}
    assert expected <= {p.name for p in build.iterdir()}


def test_a_failed_write_leaves_the_previous_index_in_place(
    index_path: Path, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = load_index(index_path)
    builds = index_path.parent / "index.builds"
    entries_before = sorted(p.name for p in builds.iterdir())

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", disk_full)
    smaller = make_documents()[:1]
    with pytest.raises(OSError, match="No space left"):
        write_small_index(index_path, fake_embedder, smaller)

    after = load_index(index_path)
    assert after.path == before.path
    assert after.manifest == before.manifest
    assert after.documents == before.documents and after.chunks == before.chunks
    assert sorted(p.name for p in builds.iterdir()) == entries_before  # no staging left over


def test_a_new_build_replaces_the_old_and_only_recent_builds_are_kept(
    index_path: Path, fake_embedder: FakeEmbedder
) -> None:
    targets = [index_path.resolve()]
    for count in (1, 2, 1):
        write_small_index(index_path, fake_embedder, make_documents()[:count])
        targets.append(index_path.resolve())
        assert len(load_index(index_path).manifest.documents) == count
    assert len(set(targets)) == len(targets)
    remaining = sorted((index_path.parent / "index.builds").iterdir())
    assert remaining == sorted(targets[-KEEP_BUILDS:])  # the current and the one before


# --- leftovers of killed builds ----------------------------------------------------------


def finished_pid() -> int:
    """The pid of a process that has exited (a build killed in its write phase)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_next_build_removes_staging_left_by_a_killed_build(
    index_path: Path, fake_embedder: FakeEmbedder
) -> None:
    builds = index_path.parent / "index.builds"
    killed = builds / f"{STAGING_PREFIX}{finished_pid()}-deadbeef"
    (killed / "bm25").mkdir(parents=True)
    (killed / DOCUMENTS).write_text("{}\n")
    write_small_index(index_path, fake_embedder)
    assert not killed.exists()
    assert not [p for p in builds.iterdir() if p.name.startswith(STAGING_PREFIX)]


def test_staging_of_a_build_still_running_is_kept(
    index_path: Path, fake_embedder: FakeEmbedder
) -> None:
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        staging = index_path.parent / "index.builds" / f"{STAGING_PREFIX}{running.pid}-cafe0000"
        staging.mkdir()
        write_small_index(index_path, fake_embedder)
        assert staging.exists()  # a concurrent build is never disturbed
    finally:
        running.kill()
        running.wait()
    write_small_index(index_path, fake_embedder)
    assert not staging.exists()  # once its process is gone, the next build removes it


def test_staging_without_an_owner_is_removed_only_when_old(
    index_path: Path, fake_embedder: FakeEmbedder
) -> None:
    builds = index_path.parent / "index.builds"
    old, recent = builds / f"{STAGING_PREFIX}a1b2c3", builds / f"{STAGING_PREFIX}d4e5f6"
    for folder in (old, recent):
        folder.mkdir()
    long_ago = time.time() - STALE_STAGING_SECONDS - 60
    os.utime(old, (long_ago, long_ago))
    write_small_index(index_path, fake_embedder)
    assert not old.exists() and recent.exists()


# --- vector widths -------------------------------------------------------------------------


@pytest.mark.parametrize("name", [SENTENCE_VECTORS, VOCABULARY_VECTORS, VECTORS])
def test_a_vector_file_narrower_or_wider_than_the_manifest_is_refused(
    index_path: Path, name: str
) -> None:
    """The probe's case: sentence vectors with 100 columns under a consistent manifest used to
    load, and every question then failed with 500."""
    stored = load_vectors(index_path / name)
    rows = stored.vectors(np.arange(stored.size))
    rewrite_consistently(index_path, name, index_bytes(np.hstack([rows, rows[:, :36]])))
    with pytest.raises(
        IndexCorrupt, match=f"{name} har vektorer med 100 dimensjoner, manifestet sier 64"
    ):
        load_index(index_path)


def test_a_manifest_claiming_another_dimension_is_refused(index_path: Path) -> None:
    rewrite_consistently(index_path, CHUNKS, (index_path / CHUNKS).read_bytes(), dimension=384)
    with pytest.raises(
        IndexCorrupt, match="manifestet sier 384 dimensjoner, kodernes vektorer har 64"
    ):
        load_index(index_path)
