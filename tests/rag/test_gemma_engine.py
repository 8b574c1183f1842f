"""The lean EmbeddingGemma engine on a tiny random Gemma 3 encoder, against transformers' own
Gemma3TextModel (plus sentence-transformers' mean pooling and Dense layers), and its batching on a
fake. The real model's parity is in test_gemma_parity.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.config import GEMMA_MODEL, EmbeddingSettings
from rag.embed import GEMMA_IDENTITY, GemmaEmbedder, make_embedder
from rag.errors import EmbedderUnavailable

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

WINDOW = 8  # transformers reads it, for a bidirectional model, as 4 tokens either side
LAYERS = ["sliding_attention"] * 5 + ["full_attention"]
PROMPTS = {"query": "task: search result | query: ", "document": "title: none | text: "}


def tiny_folder(folder: Path) -> Path:
    """A sentence-transformers-like folder of a random 6-layer Gemma 3 encoder."""
    from safetensors.torch import save_file
    from transformers import Gemma3TextConfig, Gemma3TextModel

    config = Gemma3TextConfig(
        vocab_size=300, hidden_size=48, intermediate_size=80, num_hidden_layers=6,
        num_attention_heads=3, num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16,
        sliding_window=WINDOW, layer_types=LAYERS, max_position_embeddings=64,
        use_bidirectional_attention=True, rope_theta=1_000_000.0, rope_local_base_freq=10_000.0,
        pad_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Gemma3TextModel(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():  # norms too: their weights are used as 1 + w
            parameter.copy_(torch.randn_like(parameter) * 0.3)
    model.save_pretrained(folder)
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": PROMPTS}))
    for name, shape in (("2_Dense", (96, 48)), ("3_Dense", (40, 96))):
        (folder / name).mkdir()
        weight = torch.randn(shape) * 0.1
        save_file({"linear.weight": weight.contiguous()}, str(folder / name / "model.safetensors"))
        config_json = {"in_features": shape[1], "out_features": shape[0], "bias": False}
        (folder / name / "config.json").write_text(json.dumps(config_json))
    return folder


def reference(folder: Path, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """transformers' Gemma3TextModel in fp32, mean-pooled over the mask, then the Dense layers."""
    from safetensors.torch import load_file
    from transformers import Gemma3TextModel

    model = Gemma3TextModel.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.inference_mode():
        keep = torch.from_numpy(mask)
        states = model(input_ids=torch.from_numpy(ids), attention_mask=keep).last_hidden_state
        weights = keep.unsqueeze(-1).float()
        pooled = (states * weights).sum(1) / weights.sum(1)
        for name in ("2_Dense", "3_Dense"):
            pooled = pooled @ load_file(str(folder / name / "model.safetensors"))["linear.weight"].T
    return np.asarray(pooled.numpy())


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_folder(tmp_path_factory.mktemp("tiny-gemma"))


def batch() -> tuple[np.ndarray, np.ndarray]:
    """Rows of 3, 9 and 20 tokens (the longer ones past the window), padded to 20."""
    rng = np.random.default_rng(1)
    ids = rng.integers(1, 300, size=(3, 20)).astype(np.int64)
    mask = np.zeros_like(ids)
    for row, length in enumerate((3, 9, 20)):
        mask[row, :length] = 1
    return np.where(mask == 1, ids, 0), mask


def test_fp32_gives_transformers_vectors_within_and_past_the_window(folder: Path) -> None:
    from rag.gemma_engine import GemmaEncoder

    ids, mask = batch()
    ours = GemmaEncoder(folder, "fp32")(ids, mask)
    np.testing.assert_allclose(ours, reference(folder, ids, mask), rtol=2e-4, atol=2e-5)


def test_a_row_alone_gets_the_vector_it_gets_in_a_padded_batch(folder: Path) -> None:
    from rag.gemma_engine import GemmaEncoder

    encoder = GemmaEncoder(folder, "fp32")
    ids, mask = batch()
    together = encoder(ids, mask)
    for row in range(3):
        length = int(mask[row].sum())
        alone = encoder(ids[row : row + 1, :length], mask[row : row + 1, :length])
        np.testing.assert_allclose(alone[0], together[row], rtol=1e-4, atol=1e-5)


def test_bf16_stays_within_parity(folder: Path) -> None:
    from rag.gemma_engine import GemmaEncoder

    ids, mask = batch()
    ours, expected = GemmaEncoder(folder, "bf16")(ids, mask), reference(folder, ids, mask)
    cosines = np.sum(ours * expected, 1) / np.linalg.norm(ours, axis=1)
    assert np.min(cosines / np.linalg.norm(expected, axis=1)) > 0.999


def test_a_laid_out_bf16_product_gives_the_plain_products_values() -> None:
    from rag.gemma_engine import Product

    torch.manual_seed(2)
    matrix = (torch.randn(96, 48) * 0.1).bfloat16()
    product = Product(matrix)
    assert product.packed  # laid out once, at load
    for shape in ((1, 5, 48), (3, 20, 48), (40, 48)):  # a question, a batch, rows of any count
        x = torch.randn(shape).bfloat16()
        assert torch.equal(product(x), torch.nn.functional.linear(x, matrix))


def test_an_fp32_product_is_the_plain_one() -> None:
    from rag.gemma_engine import Product

    matrix = torch.randn(8, 4)
    product = Product(matrix)
    x = torch.randn(2, 4)
    assert not product.packed
    assert torch.equal(product(x), x @ matrix.T)


def test_bf16_encoder_runs_every_matrix_laid_out(folder: Path) -> None:
    from rag.gemma_engine import GemmaEncoder

    encoder = GemmaEncoder(folder, "bf16")
    assert all(p.packed for layer in encoder.products for p in layer.values())


# --- batching, on a fake forward --------------------------------------------------------------


class RecordingForward:
    """A fake encoder: a row's vector is (mean of its ids, 1); records the batch shapes."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        self.shapes.append(ids.shape)
        means = (ids * mask).sum(1) / mask.sum(1)
        return np.stack([means, np.ones_like(means)], axis=1).astype(np.float32)


def word_tokenizer() -> object:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    vocab = {"<pad>": 0, "<unk>": 1, **{f"w{i}": 10 + i for i in range(90)}}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = Whitespace()
    return tokenizer


def test_passages_are_batched_by_length_under_the_budget_and_come_back_in_order() -> None:
    from rag.gemma_engine import GemmaRunner

    forward = RecordingForward()
    runner = GemmaRunner(word_tokenizer(), forward, width=2, budget=100)
    texts = ["w1 " * 40, "w2", "w3 " * 40, "w4", "w5 " * 30]
    vectors = runner.embed(texts)
    # shortest first: 1, 1, 30 padded to 30 (90 tokens); a 40 would make 4 x 40 > 100
    assert forward.shapes == [(3, 30), (2, 40)]
    means = [11.0, 12.0, 13.0, 14.0, 15.0]
    expected = np.array([[m, 1.0] for m in means])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, expected, rtol=1e-6)


def test_each_question_is_a_forward_pass_of_its_own() -> None:
    from rag.gemma_engine import GemmaRunner

    forward = RecordingForward()
    runner = GemmaRunner(word_tokenizer(), forward, width=2, budget=4096)
    runner.embed(["w1 w2", "w3", "w4 w5 w6"], max_rows=1)
    assert sorted(forward.shapes) == [(1, 1), (1, 2), (1, 3)]


# --- availability ---------------------------------------------------------------------------


def test_gemma_is_refused_in_one_line_when_its_folder_is_absent(tmp_path: Path) -> None:
    settings = EmbeddingSettings(models_dir=tmp_path)
    with pytest.raises(EmbedderUnavailable) as caught:
        make_embedder(settings, GEMMA_MODEL)
    message = str(caught.value)
    assert GEMMA_MODEL in message and "rag fetch-model" in message and "\n" not in message


def test_a_fetched_folder_gives_the_lean_engine_with_sentence_transformers_identity(
    folder: Path, tmp_path: Path
) -> None:
    from rag.model_fetch import GEMMA_FOLDER, RECORD

    (tmp_path / GEMMA_FOLDER).symlink_to(folder, target_is_directory=True)
    settings = EmbeddingSettings(models_dir=tmp_path)
    with pytest.raises(EmbedderUnavailable):  # a folder without the fetch record is unfinished
        make_embedder(settings, GEMMA_MODEL)
    (folder / RECORD).write_text("{}")
    made = make_embedder(settings, GEMMA_MODEL)
    assert isinstance(made, GemmaEmbedder) and made.identity == GEMMA_IDENTITY
    assert made.dimension == 40 and made.backend == "torch"
    assert (made._query_prefix, made._passage_prefix) == (PROMPTS["query"], PROMPTS["document"])
