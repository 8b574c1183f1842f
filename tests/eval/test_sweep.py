"""The configuration sweep: which configurations it builds, and a run on a tiny corpus."""

from __future__ import annotations

from pathlib import Path

from fakes import FakeEmbedder

from eval.questions import GoldQuote, Question
from eval.sweep import SweepConfig, chunk_configs, run_sweep, sweep_table
from rag.config import ChunkSettings, IndexSettings, Settings

MOSS = (
    "Moss kommune mener fastlegeordningen må styrkes med flere hjemler og kortere lister. "
    "Rekruttering av sykepleiere er krevende i hele regionen, særlig om sommeren. "
) * 3
BERGEN = (
    "Bergen kommune viser til at legevakten fungerer godt, men at samarbeidet med sykehuset "
    "om utskrivningsklare pasienter må bli bedre. "
) * 3


def test_chunk_configs_put_the_base_first_and_name_each_setting_once() -> None:
    base = Settings(chunk=ChunkSettings(size=800, overlap=100))
    configs = chunk_configs(base, grid=((400, 50), (800, 100)))
    assert [c.name for c in configs] == ["chunk 800/100", "chunk 400/50"]
    assert configs[1].chunk == ChunkSettings(size=400, overlap=50)


def test_sweep_builds_one_index_per_chunk_setting_and_scores_each(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "moss.txt").write_text(MOSS, encoding="utf-8")
    (corpus / "bergen.txt").write_text(BERGEN, encoding="utf-8")
    settings = Settings(index=IndexSettings(path=tmp_path / "unused", cache_dir=tmp_path / "cache"))
    questions = [
        Question(
            "f1",
            "Hva mener Moss om fastlegeordningen?",
            "factual",
            (GoldQuote("moss.txt", "fastlegeordningen må styrkes med flere hjemler"),),
            split="dev",  # the sweep's columns are measured on dev
        ),
        Question("n1", "Hva sier innspillene om månelandinger?", "negative", (), split="dev"),
    ]
    small = SweepConfig("chunk 100/0", ChunkSettings(size=100, overlap=0))
    large = SweepConfig("chunk 300/0", ChunkSettings(size=300, overlap=0))
    again = SweepConfig("chunk 300/0 hybrid", large.chunk, ("hybrid",))
    results = run_sweep(
        settings, questions, [small, large, again], tmp_path / "work", [corpus], FakeEmbedder()
    )
    rows = [row for row, _ in results]
    assert [r.name for r in rows] == ["chunk 100/0", "chunk 300/0", "chunk 300/0 hybrid"]
    assert rows[0].chunks > rows[1].chunks == rows[2].chunks  # the same settings: one index
    assert sorted(
        p.name for p in (tmp_path / "work").iterdir() if not p.name.endswith("builds")
    ) == [
        "chunk-100-0",
        "chunk-300-0",
    ]
    assert rows[1].metrics["hybrid R@10"] == 1.0
    assert rows[2].metrics["dense MRR@10"] is None  # that row ran hybrid only
    table = sweep_table(rows)
    assert table.splitlines()[0].startswith("| configuration | chunks | hybrid R@5 |")
    assert len(table.splitlines()) == 5
