"""The engine benchmark's parts on tiny input (the real run is `python -m eval.bench_engines`)."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import FakeEmbedder

from eval.bench_engines import (
    Engine,
    EngineRun,
    attended_keys,
    e5_flops,
    format_table,
    gemma_flops,
    matmul_peak,
    measure,
    with_cosines,
)


def test_a_window_limits_the_keys_each_token_attends_to() -> None:
    assert attended_keys(5, None) == attended_keys(5, 5) == 25
    # |i - j| < 2: the ends see 2 keys, the three inner tokens 3 each
    assert attended_keys(5, 2) == 2 + 3 + 3 + 3 + 2
    brute = sum(abs(i - j) < 257 for i in range(600) for j in range(600))
    assert attended_keys(600, 257) == brute


def test_flops_count_matrices_per_real_token_and_attention_per_pair() -> None:
    gemma_matrices = 2 * 101_449_728  # 24 x (q, k, v, o, gate, up, down)
    assert gemma_flops([1]) == gemma_matrices + 4 * 768 * 24 + 4 * 768 * 3072
    two = gemma_flops([3, 3]) - 2 * (gemma_matrices * 3 + 4 * 768 * 3072)
    assert two == 2 * 4 * 768 * 24 * 9
    assert e5_flops([10]) == 42_467_328 * 10 + 4 * 384 * 12 * 100


def test_the_peak_is_a_positive_rate() -> None:
    assert matmul_peak("fp32", size=64, repeats=2) > 0


def test_measure_times_passages_and_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEmbedder()
    monkeypatch.setattr("eval.bench_engines.make", lambda engine: fake)
    monkeypatch.setattr("eval.bench_engines.token_lengths", lambda model, texts: [10] * len(texts))
    engine = Engine("e5", "torch", "fp32")
    result = measure(engine, ["en tekst", "to tekster", "tre"], ["hva?", "hvem?"])
    run = result["run"]
    assert run.passage_backend == "fake" and run.passages_per_s > 0
    assert run.tokens_per_s == pytest.approx(10 * run.passages_per_s)
    assert run.gflops == pytest.approx(e5_flops([10] * 3) / 3 * run.passages_per_s / 1e9)
    assert run.query_min_ms <= run.query_p50_ms and run.peak_rss_mb > 10
    assert result["vectors"].shape == (5, fake.dimension)


def run(engine: str, precision: str = "fp32") -> EngineRun:
    numbers = (1.0, 10.0, 900.0, 90.0, 5.0, 4.0, 500.0)
    return EngineRun("gemma", engine, precision, engine, engine, *numbers)


def test_cosines_are_against_the_first_run_and_the_table_shows_shares_of_the_peak() -> None:
    reference = np.eye(3, dtype=np.float32)
    tilted = np.array([[1, 0, 0], [0, 0.6, 0.8], [0, 0, 1]], dtype=np.float32)
    runs = with_cosines([(run("st"), reference), (run("torch", "bf16"), tilted)])
    assert runs[0].min_cosine == pytest.approx(1.0)
    assert runs[1].min_cosine == pytest.approx(0.6)
    table = format_table(runs, {"bf16": 300.0, "fp32": 180.0})
    first = "| gemma | st | fp32 | st | st | 10.0 | 900 | 90 (50%) | 5.0 (4.0) | 500 | 1.0 |"
    assert first + " reference |" in table
    assert (
        "| torch | bf16 | torch | torch | 10.0 | 900 | 90 (30%) | 5.0 (4.0) | 500 | 1.0 | 0.60000 |"
        in table
    )
