"""The SYNTHETIC corpus generator and the index folder it writes, grown from the seeds indexed
with two fake encoders (bag-of-words vectors of 16 and 32 columns, as two blocks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEmbedder

from eval import synthetic, synthetic_spread
from eval.synthetic_index import write_synthetic_index
from indexer.build import build_index
from rag.config import IndexSettings, Settings
from rag.encoders import EncoderSet
from rag.sentences import wording
from rag.store import StoredIndex, load_index

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@pytest.fixture(scope="module")
def seeds_index(tmp_path_factory: pytest.TempPathFactory) -> StoredIndex:
    folder = tmp_path_factory.mktemp("fake-seeds")
    settings = Settings(index=IndexSettings(path=folder / "index", cache_dir=folder / "cache"))
    encoders = EncoderSet([FakeEmbedder(16, "first"), FakeEmbedder(32, "second")])
    build_index([SEEDS], settings.index.path, settings, embedder_factory=lambda: encoders)
    return load_index(settings.index.path)


@pytest.fixture(scope="module")
def geo(seeds_index: StoredIndex) -> synthetic.Geometry:
    return synthetic.geometry(synthetic.seeds_of(seeds_index))


@pytest.fixture(scope="module")
def spread(geo: synthetic.Geometry) -> synthetic.Spread:
    return synthetic_spread.calibrate(geo)


def test_the_layout_has_the_seeds_shape(geo: synthetic.Geometry) -> None:
    layout = synthetic.plan(geo, 20_000)
    assert layout.sentences == 20_000 and layout.documents == round(20_000 / 330)
    sizes = np.diff(layout.document_starts)
    assert sizes.min() >= synthetic.MIN_DOCUMENT_SENTENCES and sizes.max() > 2 * sizes.mean()
    per_chunk = (layout.chunk_ends - layout.chunk_starts).mean()
    assert 4.0 <= per_chunk <= 5.5  # the seeds: 1,280 sentences in 281 chunks, 4.9 a chunk
    held = np.zeros(layout.sentences, dtype=int)
    for start, end in zip(layout.chunk_starts, layout.chunk_ends, strict=True):
        held[start:end] += 1
        owner = np.searchsorted(layout.document_starts, [start, end - 1], side="right")
        assert owner[0] == owner[1]  # a chunk stays inside its document
    assert held.min() == 1 and 1.02 <= held.mean() <= 1.15  # some sentences in two chunks


def test_template_letters_repeat_earlier_documents(geo: synthetic.Geometry) -> None:
    layout = synthetic.plan(geo, 20_000)
    copies = np.flatnonzero(layout.copy_of >= 0)
    assert len(copies) > 0
    copied_doc = np.searchsorted(layout.document_starts, copies, side="right")
    source_doc = np.searchsorted(layout.document_starts, layout.copy_of[copies], side="right")
    assert (source_doc < copied_doc).all()
    assert (layout.copy_of[layout.copy_of[copies]] == -1).all()  # sources are originals


def test_vectors_are_unit_blocks_deterministic_and_copies_identical(
    geo: synthetic.Geometry, spread: synthetic.Spread, tmp_path: Path
) -> None:
    corpus = synthetic.generate(geo, spread, 9_000, tmp_path)
    again = synthetic.generate(geo, spread, 9_000)
    np.testing.assert_array_equal(corpus.sentences, again.sentences)
    np.testing.assert_array_equal(corpus.chunks, again.chunks)
    for rows in (corpus.sentences, corpus.chunks):
        for block in geo.seeds.blocks:
            np.testing.assert_allclose(np.linalg.norm(rows[:, block], axis=1), 1.0, atol=1e-5)
    copies = np.flatnonzero(corpus.layout.copy_of >= 0)
    np.testing.assert_array_equal(
        corpus.sentences[copies], corpus.sentences[corpus.layout.copy_of[copies]]
    )
    assert isinstance(corpus.sentences, np.memmap)


def test_calibration_gives_the_seeds_spread_at_their_shape(
    geo: synthetic.Geometry, spread: synthetic.Spread
) -> None:
    seeds = geo.seeds
    layout = synthetic.plan(geo, len(seeds.sentences), lengths=seeds.document_lengths)
    out = np.empty_like(seeds.sentences)
    grown = synthetic.sentence_vectors(geo, layout, spread, out)
    chunks = synthetic.chunk_vectors(geo, layout, spread, grown)
    pairs = synthetic_spread.layout_pairs(layout)
    seed_pairs = (seeds.pair_chunk, seeds.pair_sentence)
    for block in seeds.blocks:
        real = synthetic_spread.nearest_median(seeds.sentences[:, block])
        assert synthetic_spread.nearest_median(grown[:, block]) == pytest.approx(real, abs=0.01)
        real_fit = synthetic_spread.chunk_fit(
            seeds.chunk_vectors, seeds.sentences, seed_pairs, [block]
        )
        fit = synthetic_spread.chunk_fit(chunks, grown, pairs, [block])
        assert float(np.median(fit)) == pytest.approx(float(np.median(real_fit)), abs=0.01)


def test_the_spread_is_the_seeds_and_not_uniform_noise(
    geo: synthetic.Geometry, spread: synthetic.Spread
) -> None:
    corpus = synthetic.generate(geo, spread, 5_000)
    named = [(f"block {i}", b) for i, b in enumerate(geo.seeds.blocks)]
    grown = synthetic_spread.spread_profile(corpus.sentences, named, corpus.layout.document_starts)
    seeds = geo.seeds
    starts = np.r_[0, np.cumsum(seeds.document_lengths)]
    real = synthetic_spread.spread_profile(seeds.sentences, named, starts)
    uniform = synthetic.unit_blocks(
        np.random.default_rng(0).normal(size=(5_000, 48)).astype(np.float32), seeds.blocks
    )
    noise = synthetic_spread.spread_profile(uniform, named, corpus.layout.document_starts)
    for measure in ("random pair", "nearest", "next sentence"):
        for block in ("block 0", "block 1"):
            name = f"{block} {measure}"
            off = abs(grown[name][2] - real[name][2])  # medians
            assert off < abs(noise[name][2] - real[name][2]) / 2


def test_a_synthetic_index_loads_and_holds_together(
    seeds_index: StoredIndex, tmp_path: Path
) -> None:
    write_synthetic_index(tmp_path / "index", seeds_index, 7_000)
    index = load_index(tmp_path / "index")  # the service's own checks: hashes, counts, widths
    assert len(index.sentences.sentences) == 7_000 and len(index.documents) == 21
    assert index.manifest.encoders == seeds_index.manifest.encoders
    assert index.vectors.size == len(index.chunks) == index.manifest.chunks
    assert index.sentences.typicality.shape == (7_000, 2)
    for chunk in index.chunks:
        assert chunk.text == index.documents[chunk.document_id].text[chunk.start : chunk.end]
    texts = [
        wording(index.documents[s.document_id].text[s.start : s.end])
        for s in index.sentences.sentences
    ]
    vectors = index.sentences.vectors
    first_row = {t: r for r, t in reversed(list(enumerate(texts)))}
    same = [(r, first_row[t]) for r, t in enumerate(texts) if first_row[t] != r]
    assert same  # template letters: same wording, same vector
    for row, source in same:
        np.testing.assert_array_equal(vectors[row], vectors[source])
