"""The converted encoder exported to ONNX, run by ONNX Runtime: the fastest engine for questions.

For one short question ONNX Runtime (fp32) takes about half the time of torch here, at the same
parity (it is the same fp32 graph); for passages the torch engine in bf16 is faster. The export
(`model.onnx`, written once by torch from the converted folder) sits in its own folder beside the
converted one, with `export.json` recording the checksum of the weights it came from and its own.
It starts from the word embeddings: the runner looks the token rows up in the converted folder's
weights (memory-mapped), which keeps the 384 MB table out of the graph and mostly out of memory.
"""

from __future__ import annotations

import json
import logging
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from rag.e5_convert import MANIFEST, sha256_file
from rag.e5_engine import E5Runner, read_config
from rag.token_batches import IntMatrix

log = logging.getLogger(__name__)

EXPORT_VERSION = 2
RECORD = "export.json"
WORDS = "embeddings.word_embeddings.weight"


def _weights_digest(folder: Path) -> str:
    """The converted weights' checksum, as the (verified) conversion manifest records it."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    digest: str = manifest["files"]["model.safetensors"]
    return digest


def verify_export(target: Path, folder: Path) -> str | None:
    """None if `target` holds an intact export of `folder`'s weights, else what is wrong."""
    try:
        record = json.loads((target / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no readable export.json"
    if record.get("export_version") != EXPORT_VERSION:
        return "written by another exporter version"
    if record.get("weights_sha256") != _weights_digest(folder):
        return "exported from other weights"
    model = target / "model.onnx"
    if not model.is_file() or sha256_file(model) != record.get("onnx_sha256"):
        return "model.onnx does not match its checksum"
    return None


def ensure_onnx(folder: Path) -> Path:
    """`model.onnx` of the converted `folder`, exported (needs torch and onnx) when missing."""
    target = folder.with_name(folder.name + "-onnx")
    problem = verify_export(target, folder) if target.exists() else "not exported yet"
    if problem is None:
        return target / "model.onnx"
    log.info("exporting %s to ONNX (%s)", folder, problem)
    from rag.e5_torch import export_onnx

    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=folder.parent))
    try:
        export_onnx(folder, staging / "model.onnx")
        record = {
            "export_version": EXPORT_VERSION,
            "weights_sha256": _weights_digest(folder),
            "onnx_sha256": sha256_file(staging / "model.onnx"),
        }
        (staging / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.chmod(0o755)  # mkdtemp makes it private
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target / "model.onnx"


def word_embeddings(folder: Path) -> NDArray[np.float32]:
    """The converted word-embedding table, memory-mapped from `model.safetensors`: only the
    rows of tokens actually seen are read into memory."""
    path = folder / "model.safetensors"
    with path.open("rb") as handle:
        (header_size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_size))
    entry = header[WORDS]
    if entry["dtype"] != "F32":
        raise ValueError(f"{WORDS} is {entry['dtype']}, expected F32")
    start = 8 + header_size + entry["data_offsets"][0]
    table: NDArray[np.float32] = np.memmap(
        path, dtype="<f4", mode="r", offset=start, shape=tuple(entry["shape"])
    )
    return table


def onnx_runner(model: Path, folder: Path, threads: int | None) -> E5Runner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 0  # 0: ONNX Runtime's default (every core)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    words = word_embeddings(folder)

    def forward(ids: IntMatrix, mask: IntMatrix) -> NDArray[np.float32]:
        inputs = {"word_vectors": np.ascontiguousarray(words[ids]), "attention_mask": mask}
        (pooled,) = session.run(["pooled"], inputs)
        return np.asarray(pooled, dtype=np.float32)

    return E5Runner(folder, forward, int(read_config(folder)["hidden_size"]))
