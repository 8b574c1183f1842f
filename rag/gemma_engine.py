"""EmbeddingGemma-300m in lean torch: the fetched sentence-transformers folder, run directly.

The network is Gemma 3's text encoder (24 layers, hidden 768, 3 query heads and 1 key/value head
of 256, gated GELU MLP of 1152, RMS norms around every block, rotary positions, bidirectional
attention that every 6th layer sees the whole text and the others 256 tokens either side),
then mean pooling over every token (the prompt, <bos> and <eos> included), two bias-free Dense
layers (768 -> 3072 -> 768) and L2 normalisation: what `sentence_transformers` runs from the
folder's `modules.json`.

Here the matrices run in bf16 on CPUs with native bf16 (else fp32), the residual stream, norms and
pooling stay fp32; query, key and value are one product, and so are the MLP's gate and up. The
three query heads share one key/value head, so they are attended as one sequence three times as
long, with no copy of the keys. The bf16 matrices are laid out once, at load, in oneDNN's
blocked form (`Product`), so that no product lays its matrix out again. The 805 MB word-embedding
table is memory-mapped from the folder's fp32 weights: only the rows of tokens seen are read.
Passages are sorted by token length and batched under a token budget; each question is one
forward pass of its own.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from safetensors import safe_open

from rag.e5_engine import Precision
from rag.token_batches import IntMatrix, length_batches, padded

MAX_TOKENS = 2048  # the model's positions; longer texts are cut, as sentence-transformers does
TOKEN_BUDGET = 1024  # padded tokens per forward pass: faster than 2048 or 4096 here (README)
MAX_ROWS = 64
WORDS = "embed_tokens.weight"
QUESTION_TOKENS = 32  # the rows oneDNN lays the matrices out for: a question's tokens (a
# layout for 256 ran questions and passages no faster, side by side)


def word_table(path: Path, name: str = WORDS) -> NDArray[np.float32]:
    """One fp32 tensor of a safetensors file, memory-mapped (rows are read when indexed)."""
    with path.open("rb") as handle:
        (header_size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_size))
    entry = header[name]
    if entry["dtype"] != "F32":
        raise ValueError(f"{name} is {entry['dtype']}, expected F32")
    start = 8 + header_size + entry["data_offsets"][0]
    table: NDArray[np.float32] = np.memmap(
        path, dtype="<f4", mode="r", offset=start, shape=tuple(entry["shape"])
    )
    return table


def read_dimension(folder: Path) -> int:
    """The width of the model's vectors: the last Dense layer's output."""
    config = json.loads((folder / "3_Dense" / "config.json").read_text(encoding="utf-8"))
    return int(config["out_features"])


def rotary_bases(config: dict[str, Any]) -> dict[bool, float]:
    """The rotary base of sliding-window (True) and full (False) layers, from a config in either
    transformers' older form (`rope_local_base_freq`, `rope_theta`) or its newer one
    (`rope_parameters` per layer type); only plain rotary embeddings (no scaling) are run."""
    parameters = config.get("rope_parameters") or {
        "sliding_attention": {"rope_type": "default", "rope_theta": config["rope_local_base_freq"]},
        "full_attention": {"rope_type": "default", "rope_theta": config["rope_theta"]},
    }
    if config.get("rope_scaling") or any(
        p.get("rope_type", "default") != "default" for p in parameters.values()
    ):
        raise ValueError("expected rotary embeddings without scaling")
    return {kind == "sliding_attention": float(p["rope_theta"]) for kind, p in parameters.items()}


def rotary_tables(base: float, positions: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin [positions, size] of Gemma's rotary embedding (halves rotated together)."""
    inverse = 1.0 / (base ** (torch.arange(0, size, 2, dtype=torch.float64) / size))
    angles = torch.outer(torch.arange(positions, dtype=torch.float64), inverse)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos().float(), angles.sin().float()


class Product:
    """x -> x · matrixᵀ in the matrix's precision. A bf16 matrix is laid out once in oneDNN's
    blocked form, as inductor's freezing lays out linear layers: a plain bf16 product re-lays the
    matrix out on every call, which at a question's few tokens costs as much as the arithmetic.
    Same values (tests/rag/test_gemma_engine.py); an fp32 matrix, or a torch without oneDNN,
    runs the plain product."""

    def __init__(self, matrix: torch.Tensor) -> None:
        mkldnn = torch.backends.mkldnn.is_available()  # type: ignore[no-untyped-call]
        self.packed = matrix.dtype == torch.bfloat16 and bool(mkldnn)
        if self.packed:
            matrix = torch.ops.mkldnn._reorder_linear_weight(matrix, QUESTION_TOKENS)
        self.matrix = matrix

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.packed:
            return F.linear(x, self.matrix)
        product: torch.Tensor = torch.ops.mkldnn._linear_pointwise(
            x, self.matrix, None, "none", [], ""
        )
        return product


class GemmaEncoder:
    """Gemma 3's bidirectional text encoder, mean-pooled, Dense, Dense: unnormalised vectors."""

    def __init__(self, folder: Path, precision: Precision) -> None:
        config: dict[str, Any] = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.head_size = int(config["head_dim"])
        if int(config["num_key_value_heads"]) != 1 or not config["use_bidirectional_attention"]:
            raise ValueError("expected bidirectional attention with one key/value head")
        self.eps = float(config["rms_norm_eps"])
        # transformers reads a bidirectional model's window of 512 as 256 tokens either side
        self.window = int(config["sliding_window"]) // 2 + 1
        self.sliding = [kind == "sliding_attention" for kind in config["layer_types"]]
        self.scale = float(config["query_pre_attn_scalar"]) ** -0.5
        self.dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        self.words = word_table(folder / "model.safetensors")
        self.word_scale = math.sqrt(self.hidden)
        positions = int(config["max_position_embeddings"])
        self.rotary = {
            sliding: rotary_tables(base, positions, self.head_size)
            for sliding, base in rotary_bases(config).items()
        }
        with safe_open(str(folder / "model.safetensors"), "pt") as weights:
            self.layers = [self._layer(weights, i) for i in range(len(self.sliding))]
            self.products = [self._products(weights, i) for i in range(len(self.sliding))]
            self.final_norm = 1.0 + tensor(weights, "norm.weight")
        self.dense = []
        for module in ("2_Dense", "3_Dense"):
            with safe_open(str(folder / module / "model.safetensors"), "pt") as weights:
                self.dense.append(tensor(weights, "linear.weight"))

    def _layer(self, weights: Any, index: int) -> dict[str, torch.Tensor]:
        """One layer's norm weights, fp32 (as 1 + w)."""

        def norm(name: str) -> torch.Tensor:
            return 1.0 + tensor(weights, f"layers.{index}.{name}.weight")

        norms = ("input", "post_attention", "pre_feedforward", "post_feedforward")
        layer = {n: norm(f"{n}_layernorm") for n in norms}
        return layer | {n: norm(f"self_attn.{n}_norm") for n in ("q", "k")}

    def _products(self, weights: Any, index: int) -> dict[str, Product]:
        """One layer's matrices in the compute precision: q/k/v one product, gate/up one."""

        def get(*names: str) -> Product:
            parts = [tensor(weights, f"layers.{index}.{name}.weight") for name in names]
            return Product(torch.cat(parts).to(self.dtype))

        return {
            "qkv": get("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
            "o": get("self_attn.o_proj"),
            "gate_up": get("mlp.gate_proj", "mlp.up_proj"),
            "down": get("mlp.down_proj"),
        }

    def __call__(self, ids: IntMatrix, mask: IntMatrix) -> NDArray[np.float32]:
        """(ids, mask) [rows, tokens] -> the vectors before normalisation [rows, 768]."""
        with torch.inference_mode():
            keep = torch.from_numpy(mask).bool()
            x = torch.from_numpy(np.ascontiguousarray(self.words[ids])) * self.word_scale
            masks = self._masks(keep)
            layers = zip(self.layers, self.products, self.sliding, strict=True)
            for norms, products, sliding in layers:
                x = self._block(x, norms, products, self.rotary[sliding], masks[sliding])
            x = F.rms_norm(x, (self.hidden,), self.final_norm, self.eps)
            weights = keep.unsqueeze(-1).float()
            pooled = (x * weights).sum(1) / weights.sum(1)
            for dense in self.dense:
                pooled = F.linear(pooled, dense)
        return np.asarray(pooled.numpy(), dtype=np.float32)

    def _masks(self, keep: torch.Tensor) -> dict[bool, torch.Tensor | None]:
        """Which keys each query may attend to, for full and for sliding-window layers: None
        where every key is allowed (one row, or no padding and no text past the window)."""
        length = keep.shape[1]
        full = None if bool(keep.all()) else keep[:, None, None, :]
        if length <= self.window:
            return {False: full, True: full}
        position = torch.arange(length)
        band = (position[:, None] - position[None, :]).abs() < self.window
        band = band.repeat(self.heads, 1)  # the heads are attended as one sequence
        sliding = band[None, None] & keep[:, None, None, :]
        return {False: full, True: sliding}

    def _block(
        self,
        x: torch.Tensor,
        w: dict[str, torch.Tensor],
        products: dict[str, Product],
        rotary: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        rows, length, size = x.shape[0], x.shape[1], self.head_size
        h = F.rms_norm(x, (self.hidden,), w["input"], self.eps).to(self.dtype)
        qkv = products["qkv"](h).float()
        q, k, v = torch.split(qkv, [self.heads * size, size, size], dim=-1)
        q = F.rms_norm(q.view(rows, length, self.heads, size), (size,), w["q"], self.eps)
        k = F.rms_norm(k, (size,), w["k"], self.eps)
        cos, sin = rotary[0][:length], rotary[1][:length]
        q = rotate(q, cos[:, None], sin[:, None]).transpose(1, 2)  # [rows, heads, length, size]
        k = rotate(k, cos, sin)
        # the heads share k and v: attend them as one sequence of heads x length queries
        queries = q.reshape(rows, 1, self.heads * length, size).to(self.dtype)
        context = F.scaled_dot_product_attention(
            queries, k.unsqueeze(1).to(self.dtype), v.unsqueeze(1).to(self.dtype),
            attn_mask=mask, scale=self.scale,
        )  # fmt: skip
        context = context.view(rows, self.heads, length, size).transpose(1, 2)
        attended = products["o"](context.reshape(rows, length, self.heads * size)).float()
        x = x + F.rms_norm(attended, (self.hidden,), w["post_attention"], self.eps)
        h = F.rms_norm(x, (self.hidden,), w["pre_feedforward"], self.eps).to(self.dtype)
        gate, up = products["gate_up"](h).chunk(2, dim=-1)
        out = products["down"](F.gelu(gate, approximate="tanh") * up).float()
        return x + F.rms_norm(out, (self.hidden,), w["post_feedforward"], self.eps)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary positions, Gemma's way: the first half of each head against the second."""
    first, second = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-second, first], dim=-1) * sin


def tensor(weights: Any, name: str) -> torch.Tensor:
    """One tensor of an open safetensors file, as fp32."""
    found: torch.Tensor = weights.get_tensor(name)
    return found.float()


Forward = Callable[[IntMatrix, IntMatrix], NDArray[np.float32]]
"""(ids [rows, tokens], mask [rows, tokens]) -> unnormalised vectors [rows, width]."""


class GemmaRunner:
    """Tokenises (at most MAX_TOKENS with <bos> and <eos>), batches by length under a token
    budget, runs `forward` on each batch, normalises; vectors come back in input order."""

    def __init__(self, tokenizer: Any, forward: Forward, width: int, budget: int) -> None:
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()
        pad = tokenizer.token_to_id("<pad>")
        if pad is None:
            raise ValueError("the tokenizer has no <pad>")
        self.tokenizer = tokenizer
        self.pad = int(pad)
        self.forward = forward
        self.width = width
        self.budget = budget

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [list(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str], max_rows: int = MAX_ROWS) -> NDArray[np.float32]:
        """L2-normalised vectors of already prefixed texts, in order."""
        rows = self.token_ids(texts)
        out = np.zeros((len(texts), self.width), dtype=np.float32)
        for batch in length_batches([len(r) for r in rows], self.budget, max_rows):
            out[batch] = self.forward(*padded([rows[i] for i in batch], self.pad))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        vectors: NDArray[np.float32] = out / np.maximum(norms, 1e-12)
        return vectors


def gemma_runner(
    folder: Path, precision: Precision, threads: int | None, budget: int = TOKEN_BUDGET
) -> GemmaRunner:
    """The runner of the model in `folder` (a sentence-transformers folder of EmbeddingGemma)."""
    from tokenizers import Tokenizer

    if threads:
        torch.set_num_threads(threads)
    encoder = GemmaEncoder(folder, precision)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    return GemmaRunner(tokenizer, encoder, read_dimension(folder), budget)
