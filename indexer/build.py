"""Build the index: sources -> documents -> chunks -> embeddings -> FAISS + BM25 on disk.

Re-running on unchanged sources with unchanged settings does nothing; otherwise only texts whose
embeddings are not cached (new or changed documents) are embedded again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.chunk import chunk_document
from indexer.clean import clean_pages
from indexer.metadata import METADATA_FILE_NAME, SourceMetadata, guess_metadata, read_metadata
from indexer.sources import RawDocument, discover, load_file
from rag.config import Settings
from rag.dense import build_faiss, choose_faiss_type
from rag.embed import Embedder, make_embedder
from rag.embed_cache import EmbeddingCache, embed_with_cache
from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound, NothingIndexed, SourceError
from rag.store import read_manifest, verify_files, write_index
from rag.types import Chunk, Document, SkippedFile

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class BuildReport:
    out: Path
    documents: int
    chunks: int
    embedded: int
    skipped: tuple[SkippedFile, ...]
    guessed_submitters: tuple[str, ...]
    seconds: float
    unchanged: bool = False
    submitters: dict[str, str] = field(default_factory=dict)

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0


def load_sources(paths: Sequence[Path]) -> tuple[list[RawDocument], list[SkippedFile]]:
    """Every readable source; the rest are named with their reason, never dropped silently."""
    files, skipped = discover(paths)
    raws: list[RawDocument] = []
    for file in files:
        try:
            raws.append(load_file(file))
        except SourceError as exc:
            log.warning("skipping %s: %s", file, exc)
            skipped.append(SkippedFile(str(file), str(exc)))
    return raws, skipped


def load_metadata(paths: Sequence[Path]) -> dict[str, SourceMetadata]:
    """Metadata rows from `metadata.csv` in each folder given (or beside each file given)."""
    found: dict[str, SourceMetadata] = {}
    for path in paths:
        folder = path if path.is_dir() else path.parent
        found.update(read_metadata(folder / METADATA_FILE_NAME))
    return found


def document_id_for(raw: RawDocument, taken: set[str]) -> str:
    """A URL-safe id from the file name, made unique with the content hash where needed."""
    base = _UNSAFE_ID.sub("-", raw.path.stem).strip("-.") or "document"
    candidate = base if base not in taken else f"{base}-{raw.content_hash[:8]}"
    taken.add(candidate)
    return candidate


def make_document(raw: RawDocument, meta: SourceMetadata | None, document_id: str) -> Document:
    cleaned, page_starts = clean_pages(raw.pages)
    meta = meta or guess_metadata(raw.source, cleaned.text)
    return Document(
        document_id=document_id,
        source=raw.source,
        submitter=meta.submitter,
        submitter_type=meta.submitter_type,
        title=meta.title or raw.source,
        text=cleaned.text,
        content_hash=raw.content_hash,
        submitter_guessed=meta.guessed,
        sections=cleaned.sections,
        page_starts=page_starts if raw.paged else (),
    )


RUNTIME_EMBEDDING_FIELDS = {"engine", "precision", "threads", "batch_size", "device", "models_dir"}


def fingerprint(
    raws: Sequence[RawDocument], meta: dict[str, SourceMetadata], settings: Settings
) -> str:
    """Everything the index depends on: source bytes, their metadata, chunk and model settings."""
    # how vectors are computed (engine, precision, threads, batch size) does not change them
    vectors_from = settings.embedding.model_dump(mode="json", exclude=RUNTIME_EMBEDDING_FIELDS)
    parts: list[Any] = [settings.chunk.model_dump(), vectors_from]
    for raw in sorted(raws, key=lambda r: str(r.path)):
        row = meta.get(raw.source)
        parts.append(
            [
                str(raw.path),
                raw.content_hash,
                row and [row.submitter, row.submitter_type, row.title],
            ]
        )
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def intact_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest of the index at `out`, or None if there is none or it is damaged."""
    try:
        manifest = read_manifest(out)
        verify_files(out, manifest)  # a damaged index is rebuilt, not reported "up to date"
    except (IndexNotFound, IndexCorrupt, IndexMismatch):
        return None
    return manifest


def build_index(
    paths: Sequence[Path],
    out: Path,
    settings: Settings,
    embedder_factory: Callable[[], Embedder] | None = None,
    on_progress: ProgressCallback | None = None,
) -> BuildReport:
    started = time.perf_counter()
    raws, skipped = load_sources(paths)
    if not raws:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped) or "no files found"
        raise NothingIndexed(f"nothing could be indexed ({reasons})")
    meta = load_metadata(paths)
    corpus_print = fingerprint(raws, meta, settings)
    manifest = intact_manifest(out)
    if manifest is not None and manifest.get("fingerprint") == corpus_print:
        return BuildReport(
            out,
            manifest["documents"],
            manifest["chunks"],
            0,
            tuple(skipped),
            tuple(manifest.get("guessed_submitters", ())),
            time.perf_counter() - started,
            unchanged=True,
        )
    taken: set[str] = set()
    documents = [make_document(r, meta.get(r.source), document_id_for(r, taken)) for r in raws]
    chunks = [c for d in documents for c in chunk_document(d, settings.chunk)]
    embedder = (embedder_factory or (lambda: make_embedder(settings.embedding)))()
    vectors, embedded = embed_chunks(chunks, documents, embedder, settings, on_progress)
    faiss_type = choose_faiss_type(
        settings.index.faiss_type, len(chunks), settings.index.ann_threshold
    )
    guessed = tuple(d.source for d in documents if d.submitter_guessed)
    write_index(
        out,
        documents,
        chunks,
        build_faiss(vectors, faiss_type),
        {
            "embedding_model": embedder.model_name,
            "embedding_engine": embedder.backend,
            "embedding_precision": embedder.precision,
            "embedding_identity": embedder.identity,
            "dimension": embedder.dimension,
            "normalized": True,
            "metric": "inner_product",
            "faiss_type": faiss_type,
            "chunk_settings": settings.chunk.model_dump(),
            "fingerprint": corpus_print,
            "sources": {d.source: d.content_hash for d in documents},
            "guessed_submitters": list(guessed),
            "skipped": [{"path": s.path, "reason": s.reason} for s in skipped],
        },
    )
    return BuildReport(
        out,
        len(documents),
        len(chunks),
        embedded,
        tuple(skipped),
        guessed,
        time.perf_counter() - started,
        submitters={d.source: d.submitter for d in documents},
    )


def passage_text(chunk: Chunk, documents: dict[str, Document], with_context: bool) -> str:
    """What is embedded for a chunk: its text, optionally led by its submitter and section."""
    if not with_context:
        return chunk.text
    doc = documents[chunk.document_id]
    context = " – ".join(p for p in (doc.submitter, chunk.section) if p)
    return f"{context}\n{chunk.text}"


def embed_chunks(
    chunks: Sequence[Chunk],
    documents: Sequence[Document],
    embedder: Embedder,
    settings: Settings,
    on_progress: ProgressCallback | None,
) -> tuple[Any, int]:
    by_id = {d.document_id: d for d in documents}
    texts = [passage_text(c, by_id, settings.chunk.context) for c in chunks]
    cache = EmbeddingCache(settings.index.cache_dir / "embeddings.sqlite")
    try:
        return embed_with_cache(embedder, texts, cache, settings.embedding.batch_size, on_progress)
    finally:
        cache.close()
