"""Build the index: sources -> documents -> chunks -> embeddings -> FAISS + BM25 on disk.

Re-running on unchanged sources with unchanged settings does nothing; otherwise only texts whose
embeddings are not cached (new or changed documents) are embedded again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from indexer.chunk import chunk_document
from indexer.clean import clean_pages
from indexer.dedupe import find_duplicates, mark_shared_text, shared_shares
from indexer.metadata import (
    METADATA_FILE_NAME,
    SUGGESTED_FILE_NAME,
    SourceMetadata,
    guess_metadata,
    read_metadata,
    suggested_metadata,
)
from indexer.sources import FileReader, RawDocument, discover, link_problem, shown_path
from rag.config import GEMMA_MODEL, Settings, SourceSettings
from rag.embed import Embedder, release_freed_memory
from rag.embed_cache import EmbeddingCache, embed_with_cache
from rag.encoders import EncoderSet, as_encoder_set, make_encoders
from rag.errors import (
    IndexCorrupt,
    IndexMismatch,
    IndexNotFound,
    IndexWriteFailed,
    NothingIndexed,
    SourceError,
)
from rag.index_path import check_index_path
from rag.manifest import DocumentEntry, DuplicateEntry, EncoderEntry, Manifest, SkippedEntry
from rag.model_fetch import fetched_folder
from rag.neighbours import Neighbours, passage_keys
from rag.sentence_layer import (
    SentenceLayer,
    kept_neighbours,
    led_by_context,
    sentence_passage,
    split_sentences,
)
from rag.store import read_manifest, verify_files, write_index
from rag.types import Chunk, Document, SkippedFile
from rag.vector_index import IndexSpec, build, choose_spec
from rag.vocabulary import Vocabulary, corpus_words

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]  # (embedded so far, to embed, by which model)
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for the closing summary (indexer/report.py)."""

    out: Path
    documents: tuple[DocumentEntry, ...]
    chunks: int
    embedded: int  # passages embedded by the model in this build
    cached: int  # passages whose embedding came from the cache
    skipped: tuple[SkippedEntry, ...]
    duplicates: tuple[DuplicateEntry, ...]
    seconds: float
    unchanged: bool = False
    suggested_metadata: Path | None = None
    encoders: tuple[str, ...] = ()  # the models the index was built with
    left_out: tuple[tuple[str, str], ...] = ()  # (model, why) configured but not loadable
    unmatched_metadata: tuple[str, ...] = ()  # files metadata.csv names that are not sources

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    @property
    def guessed_submitters(self) -> tuple[str, ...]:
        return tuple(d.source for d in self.documents if d.submitter_origin != "metadata.csv")

    @property
    def submitters(self) -> dict[str, str]:
        return {d.source: d.submitter for d in self.documents}


def load_sources(
    paths: Sequence[Path], limits: SourceSettings | None = None
) -> tuple[list[RawDocument], list[SkippedFile]]:
    """Every readable source within `limits`; the rest (too big, too slow, unreadable) are named
    with their reason, never dropped silently."""
    files, skipped = discover(paths)
    raws: list[RawDocument] = []
    with FileReader(limits or SourceSettings()) as reader:
        for file in files:
            try:
                raws.append(reader.load(file))
            except SourceError as exc:
                log.warning("skipping %s: %s", shown_path(file), exc)
                skipped.append(SkippedFile(shown_path(file), str(exc)))
    return raws, skipped


def load_metadata(paths: Sequence[Path]) -> tuple[dict[str, SourceMetadata], list[SkippedFile]]:
    """Metadata rows from `metadata.csv` in each folder given (or beside each file given), and
    the metadata files not read: a folder, or a link that leaves the folder or points nowhere
    (a link to /etc/passwd is not read, so not echoed in an error either)."""
    found: dict[str, SourceMetadata] = {}
    unread: list[SkippedFile] = []
    for path in paths:
        folder = path if path.is_dir() else path.parent
        file = folder / METADATA_FILE_NAME
        problem = metadata_problem(file, folder)
        if problem is not None:
            log.warning("not reading %s: %s", shown_path(file), problem)
            unread.append(SkippedFile(shown_path(file), problem))
            continue
        found.update(read_metadata(file))
    return found, unread


def metadata_problem(file: Path, folder: Path) -> str | None:
    """Why a metadata.csv cannot be read, or None (also when there is none)."""
    if file.is_symlink():
        return link_problem(file, folder)
    if file.is_dir():
        return "metadata.csv is a folder, not a file; no submitters read from it"
    if file.exists() and not file.is_file():
        return "metadata.csv is not a regular file; not read"
    return None


def unmatched_rows(
    meta: dict[str, SourceMetadata], raws: Sequence[RawDocument], skipped: Sequence[SkippedFile]
) -> tuple[str, ...]:
    """The files metadata.csv names that are not among the sources (a misspelt or removed
    file): named in the report and the manifest, never ignored without a word."""
    present = {r.source for r in raws} | {PurePath(s.path).name for s in skipped}
    missing = tuple(sorted(set(meta) - present))
    if missing:
        log.warning("metadata.csv names files that are not in the sources: %s", ", ".join(missing))
    return missing


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
        submitter_origin=meta.origin,
        sections=cleaned.sections,
        page_starts=page_starts if raw.paged else (),
    )


def make_documents(
    raws: Sequence[RawDocument], meta: dict[str, SourceMetadata]
) -> tuple[list[Document], list[DuplicateEntry]]:
    """One document per submission: repeats are left out and named; shared text is marked."""
    drafts = [make_document(r, meta.get(r.source), r.source) for r in raws]
    shares = shared_shares([d.text for d in drafts], [d.submitter for d in drafts])
    duplicates = find_duplicates(drafts, shares)
    dropped = {d.index for d in duplicates}
    taken: set[str] = set()
    final_id = {i: document_id_for(raws[i], taken) for i in range(len(raws)) if i not in dropped}
    entries = [
        DuplicateEntry(
            source=drafts[d.index].source,
            duplicate_of=final_id[d.kept],
            kind=d.kind,
            shared=round(d.shared, 3),
        )
        for d in duplicates
    ]
    for entry in entries:
        log.warning(
            "%s is the same submission as %s; not indexed", entry.source, entry.duplicate_of
        )
    kept = [dataclasses.replace(drafts[i], document_id=final_id[i]) for i in sorted(final_id)]
    remaining = {(i, j): v for (i, j), v in shares.items() if i in final_id and j in final_id}
    position = {old: new for new, old in enumerate(sorted(final_id))}
    renumbered = {(position[i], position[j]): v for (i, j), v in remaining.items()}
    return mark_shared_text(kept, renumbered), entries


def document_entry(doc: Document) -> DocumentEntry:
    return DocumentEntry(
        source=doc.source,
        document_id=doc.document_id,
        content_hash=doc.content_hash,
        submitter=doc.submitter,
        submitter_type=doc.submitter_type,
        submitter_origin=doc.submitter_origin,
        title=doc.title,
        near_duplicates=doc.near_duplicates,
    )


RUNTIME_EMBEDDING_FIELDS = {"engine", "precision", "threads", "batch_size", "device", "models_dir"}


def fingerprint(
    raws: Sequence[RawDocument],
    meta: dict[str, SourceMetadata],
    settings: Settings,
    unmatched: Sequence[str] = (),
) -> str:
    """Everything the index depends on: source bytes, their metadata, chunk and model settings,
    and the metadata rows that match no source (which its manifest lists)."""
    # how vectors are computed (engine, precision, threads, batch size) does not change them
    vectors_from = settings.embedding.model_dump(mode="json", exclude=RUNTIME_EMBEDDING_FIELDS)
    # a model fetched since the last build changes what the build can embed with
    vectors_from["obtainable"] = [obtainable(m, settings) for m in settings.embedding.models]
    parts: list[Any] = [settings.chunk.model_dump(), vectors_from]
    if unmatched:
        parts.append(["metadata rows without a source", *unmatched])
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


def obtainable(model: str, settings: Settings) -> bool:
    """Whether the build can load `model` as far as a cheap check tells: EmbeddingGemma only
    from its fetched folder."""
    if model != GEMMA_MODEL:
        return True
    return fetched_folder(settings.embedding.models_dir) is not None


def intact_manifest(out: Path) -> Manifest | None:
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
    check_index_path(out, paths)  # before any work: what --out holds is never lost
    raws, skipped = load_sources(paths, settings.sources)
    if not raws:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped) or "no files found"
        raise NothingIndexed(f"nothing could be indexed ({reasons})")
    meta, unread = load_metadata(paths)
    skipped_entries = tuple(SkippedEntry(path=s.path, reason=s.reason) for s in skipped + unread)
    unmatched = unmatched_rows(meta, raws, skipped)
    corpus_print = fingerprint(raws, meta, settings, unmatched)
    previous = intact_manifest(out)
    if previous is not None and previous.fingerprint == corpus_print:
        return BuildReport(
            out,
            previous.documents,
            previous.chunks,
            embedded=0,
            cached=0,
            skipped=skipped_entries,
            duplicates=previous.duplicates,
            seconds=time.perf_counter() - started,
            unchanged=True,
            suggested_metadata=out / SUGGESTED_FILE_NAME,
            encoders=tuple(e.model for e in previous.encoders),
            left_out=tuple(
                (model, "ikke hentet (rag fetch-model)")
                for model in settings.embedding.models
                if model not in {e.model for e in previous.encoders}
                and not obtainable(model, settings)
            ),
            unmatched_metadata=unmatched,
        )
    documents, duplicates = make_documents(raws, meta)
    chunks = [c for d in documents for c in chunk_document(d, settings.chunk)]
    encoders = as_encoder_set((embedder_factory or (lambda: make_encoders(settings.embedding)))())
    for model, reason in encoders.unavailable.items():
        log.warning("built without %s: %s", model, reason)
    sentences = split_sentences(documents, chunks)
    words = corpus_words(documents)
    by_id = {d.document_id: d for d in documents}
    sentence_texts = [
        sentence_passage(s, by_id[s.document_id], settings.chunk.sentence_context)
        for s in sentences
    ]
    passages = [*(passage_text(c, by_id, settings.chunk.context) for c in chunks), *sentence_texts]
    embedded = embed_texts(passages, words, encoders, settings, on_progress)
    vectors, sentence_vectors = np.split(embedded.passages, [len(chunks)])
    chunk_index = build(vectors, spec_for(vectors, settings))
    layer = SentenceLayer.built(
        tuple(sentences),
        sentence_vectors,
        encoders.blocks(),
        spec_for(sentence_vectors, settings),
        keys=passage_keys(sentence_texts),
        previous=previous_neighbours(out, previous, encoders),
    )
    vocabulary = Vocabulary(tuple(words), build(embedded.words, spec_for(embedded.words, settings)))
    manifest = Manifest(
        embedding_model=encoders.model_name,
        embedding_engine=encoders.backend,
        embedding_precision=encoders.precision,
        embedding_identity=encoders.identity,
        dimension=encoders.dimension,
        encoders=tuple(encoder_entry(m) for m in encoders.members),
        vector_indexes={
            "chunks": chunk_index.record(),
            "sentences": layer.index.record(),
            "vocabulary": vocabulary.index.record(),
        },
        chunk_settings=settings.chunk,
        fingerprint=corpus_print,
        source_paths=tuple(str(p) for p in paths),
        documents=tuple(document_entry(d) for d in documents),
        chunks=len(chunks),
        sentences=len(sentences),
        vocabulary=len(words),
        duplicates=tuple(duplicates),
        skipped=skipped_entries,
        unmatched_metadata=unmatched,
    )
    suggested = {SUGGESTED_FILE_NAME: suggested_metadata(manifest.documents)}
    try:
        write_index(out, documents, chunks, chunk_index, layer, vocabulary, manifest, suggested)
    except OSError as exc:  # e.g. the disk filled up: the previous index stays in place
        raise IndexWriteFailed(f"cannot write the index at {out} ({exc.strerror or exc})") from exc
    return BuildReport(
        out,
        manifest.documents,
        len(chunks),
        embedded=embedded.new,
        cached=embedded.distinct - embedded.new,
        skipped=skipped_entries,
        duplicates=manifest.duplicates,
        seconds=time.perf_counter() - started,
        suggested_metadata=out / SUGGESTED_FILE_NAME,
        encoders=tuple(e.model for e in manifest.encoders),
        left_out=tuple(encoders.unavailable.items()),
        unmatched_metadata=unmatched,
    )


def previous_neighbours(
    out: Path, previous: Manifest | None, encoders: EncoderSet
) -> Neighbours | None:
    """The sentences' neighbours the index at `out` kept, when it was built with these
    encoders (its rows' vectors are then the ones this build embeds for the same texts)."""
    if previous is None or previous.embedding_identity != encoders.identity:
        return None
    return kept_neighbours(out, previous.sentences)


def spec_for(vectors: np.ndarray, settings: Settings) -> IndexSpec:  # type: ignore[type-arg]
    """The vector index for these rows, as the settings ask (`rag.vector_index.choose_spec`)."""
    index = settings.index
    return choose_spec(
        len(vectors), vectors.shape[1], index.faiss_type, flat_below=index.ann_threshold
    )


def passage_text(chunk: Chunk, documents: dict[str, Document], with_context: bool) -> str:
    """What is embedded for a chunk: its text, optionally led by its submitter and section."""
    if not with_context:
        return chunk.text
    return led_by_context(chunk.text, documents[chunk.document_id], chunk.section)


@dataclass(frozen=True)
class Embedded:
    passages: np.ndarray  # type: ignore[type-arg]  # every encoder's blocks side by side
    words: np.ndarray  # type: ignore[type-arg]  # in the first encoder's space
    new: int  # passages embedded now, summed over the encoders
    distinct: int  # distinct passages to embed, summed over the encoders


def embed_texts(
    passages: Sequence[str],
    words: Sequence[str],
    encoders: EncoderSet,
    settings: Settings,
    on_progress: ProgressCallback | None,
) -> Embedded:
    """The chunks' and sentences' vectors from every encoder, the words' from the first; only
    texts not in the cache are embedded (each encoder has its own entries)."""
    cache = EmbeddingCache(settings.index.cache_dir / "embeddings.sqlite")
    blocks, new, distinct = [], 0, 0
    first = encoders.members[0]
    try:
        for member in encoders.members:
            texts = [*passages, *words] if member is first else list(passages)
            progress = labelled(on_progress, member.model_name)
            vectors, embedded = embed_with_cache(
                member, texts, cache, settings.embedding.batch_size, progress
            )
            member.release()  # one model in memory at a time
            release_freed_memory()
            blocks.append(vectors)
            new, distinct = new + embedded, distinct + len(set(texts))
    finally:
        cache.close()
    word_vectors = blocks[0][len(passages) :]
    blocks[0] = blocks[0][: len(passages)]
    return Embedded(np.hstack(blocks).astype(np.float32), word_vectors, new, distinct)


def labelled(on_progress: ProgressCallback | None, model: str) -> Callable[[int, int], None] | None:
    """The build's progress callback, saying which model embeds."""
    if on_progress is None:
        return None
    return lambda done, total: on_progress(done, total, model)


def encoder_entry(encoder: Embedder) -> EncoderEntry:
    return EncoderEntry(
        model=encoder.model_name,
        engine=encoder.backend,
        precision=encoder.precision,
        identity=encoder.identity,
        dimension=encoder.dimension,
    )
