"""The sentence layer: sentence spans, the chunks that hold them, best sentence per chunk,
how typical each sentence is, and the files that store them."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.chunk import chunk_document
from rag import sentence_layer
from rag.config import ChunkSettings
from rag.embed import normalise_rows
from rag.neighbours import typicality
from rag.sentence_layer import (
    SENTENCE_TYPICALITY,
    SENTENCE_VECTORS,
    SENTENCES,
    SentenceLayer,
    read_sentences,
    sentence_passage,
    spanned,
    split_sentences,
    write_sentences,
)
from rag.sentences import sentence_spans
from rag.types import Chunk, Document, Sentence
from rag.vector_index import build, choose_spec

SMALL_CHUNKS = ChunkSettings(size=150, overlap=40)


def chunks_of(documents: dict[str, Document]) -> list[Chunk]:
    return [c for d in documents.values() for c in chunk_document(d, SMALL_CHUNKS)]


def layer_of(sentences: tuple[Sentence, ...], vectors: np.ndarray) -> SentenceLayer:
    return SentenceLayer.built(sentences, vectors.astype(np.float32), [slice(None)])


def test_every_sentence_is_a_span_of_its_document_in_order(
    documents: dict[str, Document],
) -> None:
    found = split_sentences(list(documents.values()), chunks_of(documents))
    for doc in documents.values():
        own = [s for s in found if s.document_id == doc.document_id]
        spans = sentence_spans(doc.text)
        assert [(s.start, s.end) for s in own] == [(p.start, p.end) for p in spans]
        texts = [doc.text[s.start : s.end] for s in own]
        assert all(t and t == t.strip() for t in texts)
    bergen = [documents["bergen"].text[s.start : s.end] for s in found if s.document_id == "bergen"]
    assert "Kommunen foreslår f.eks. flere faste stillinger for fastleger." in bergen
    assert [s.document_id for s in found] == sorted(
        (s.document_id for s in found), key=list(documents).index
    )  # document order


def test_chunk_rows_are_exactly_the_overlapping_chunks(documents: dict[str, Document]) -> None:
    chunks = chunks_of(documents)
    found = split_sentences(list(documents.values()), chunks)
    assert any(len(s.chunk_rows) > 1 for s in found)  # the overlap puts some in two chunks
    for s in found:
        expected = tuple(
            row
            for row, c in enumerate(chunks)
            if c.document_id == s.document_id and c.start < s.end and s.start < c.end
        )
        assert s.chunk_rows == expected
        assert s.chunk_rows  # chunking covers every sentence


TEXT = "Legevakten er stengt. Fastlegene har lange lister! Hva med natta? Ja. " * 6


@given(st.lists(st.tuples(st.integers(0, len(TEXT)), st.integers(1, 120)), max_size=25))
def test_chunk_rows_of_any_chunk_layout_against_brute_force(
    layout: list[tuple[int, int]],
) -> None:
    """Chunks in any order, overlapping, nested or ending early: the one-pass search finds
    exactly the chunks the brute force finds."""
    doc = Document("d", "d.txt", "S", "annen", "t", TEXT, "h")
    chunks = [
        (row, Chunk(f"c{row}", "d", start, min(start + size, len(TEXT)), ""))
        for row, (start, size) in enumerate(layout)
    ]
    for s in sentence_layer.document_sentences(doc, chunks):
        expected = tuple(r for r, c in chunks if c.start < s.end and s.start < c.end)
        assert s.chunk_rows == expected


def time_sentences(sentences: int) -> float:
    """Best of three, in this process's CPU time: the sentence layer of one long document
    chunked as the indexer does (chunks of about 800 characters sharing 200)."""
    text = " ".join(
        f"Setning {i} handler om legevakt og fastleger i kommunen." for i in range(sentences)
    )
    doc = Document("d", "d.txt", "S", "annen", "t", text, "h")
    chunks = [
        (row, Chunk(f"c{row}", "d", start, min(start + 800, len(text)), ""))
        for row, start in enumerate(range(0, len(text), 600))
    ]
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        sentence_layer.document_sentences(doc, chunks)
        best = min(best, time.process_time() - started)
    return best


def test_the_sentence_layer_grows_linearly_with_the_document() -> None:
    """Eight times the text takes about eight times as long, not sixty-four (every sentence
    used to scan every chunk: 2 MB 2.2 s, 4 MB 8.6 s, 50 MB over 380 s; here that was 27
    times as long)."""
    small, large = time_sentences(2_000), time_sentences(16_000)
    assert large < 14 * small, (small, large)


def test_a_document_without_chunks_keeps_its_sentences_without_rows(
    documents: dict[str, Document],
) -> None:
    chunks = [c for c in chunks_of(documents) if c.document_id != "more"]
    found = split_sentences(list(documents.values()), chunks)
    more = [s for s in found if s.document_id == "more"]
    assert more and all(s.chunk_rows == () for s in more)


def test_sentence_passage_is_led_by_submitter_and_section(documents: dict[str, Document]) -> None:
    doc = documents["bergen"]
    start = doc.text.index("Legevakten i Bergen")
    sentence = Sentence("bergen", start, doc.text.index(" Vi trenger"), ())
    assert sentence_passage(sentence, doc, with_context=False) == (
        "Legevakten i Bergen har lange ventetider om natten."
    )
    assert sentence_passage(sentence, doc, with_context=True) == (
        "Bergen kommune – Legevakt\nLegevakten i Bergen har lange ventetider om natten."
    )
    untitled = replace(doc, sections=())
    assert sentence_passage(sentence, untitled, with_context=True).startswith("Bergen kommune\n")


def brute_best(
    sentences: tuple[Sentence, ...], cosines: np.ndarray, n_chunks: int
) -> tuple[list[float], list[int]]:
    """For each chunk: the best cosine of a sentence it holds, ties to the lower sentence row."""
    best, which = [-1.0] * n_chunks, [-1] * n_chunks
    for row in range(n_chunks):
        for i, s in enumerate(sentences):
            if row in s.chunk_rows and (which[row] == -1 or cosines[i] > best[row]):
                best[row], which[row] = float(cosines[i]), i
    return best, which


@st.composite
def layers(draw: st.DrawFn) -> tuple[tuple[Sentence, ...], np.ndarray, int]:
    n_chunks = draw(st.integers(0, 9))
    n_sentences = draw(st.integers(0, 13))
    rows = st.lists(st.integers(0, max(n_chunks - 1, 0)), max_size=3, unique=True)
    sentences = tuple(
        Sentence("d", i, i + 1, tuple(sorted(draw(rows))) if n_chunks else ())
        for i in range(n_sentences)
    )
    # few distinct values, so that ties happen
    values = draw(st.lists(st.sampled_from([-0.5, 0.0, 0.25, 0.5, 1.0]), min_size=n_sentences))
    return sentences, np.array(values[:n_sentences], dtype=np.float32), n_chunks


@given(layers())
def test_best_per_chunk_against_brute_force(
    layer: tuple[tuple[Sentence, ...], np.ndarray, int],
) -> None:
    sentences, cosines, n_chunks = layer
    vectors = np.zeros((len(sentences), 4), dtype=np.float32)
    best, which = layer_of(sentences, vectors).best_per_chunk(cosines, n_chunks)
    expected_best, expected_which = brute_best(sentences, cosines, n_chunks)
    assert best.dtype == np.float32 and which.dtype == np.int64
    assert best.tolist() == expected_best
    assert which.tolist() == expected_which
    chosen = np.arange(0, n_chunks, 2, dtype=np.int64)  # these chunks only, the others unscored
    some, of = layer_of(sentences, vectors).best_per_chunk(cosines, n_chunks, chosen)
    assert some.tolist() == [b if r % 2 == 0 else -1.0 for r, b in enumerate(expected_best)]
    assert of.tolist() == [w if r % 2 == 0 else -1 for r, w in enumerate(expected_which)]


def test_best_per_chunk_by_hand() -> None:
    sentences = (
        Sentence("d", 0, 1, (0,)),
        Sentence("d", 1, 2, (0, 1)),
        Sentence("d", 2, 3, (1,)),
        Sentence("d", 3, 4, (3,)),
    )
    cosines = np.array([0.2, 0.7, 0.7, -0.3], dtype=np.float32)
    layer = layer_of(sentences, np.zeros((4, 2), dtype=np.float32))
    best, which = layer.best_per_chunk(cosines, 5)
    assert best.tolist() == pytest.approx([0.7, 0.7, -1.0, -0.3, -1.0])
    assert which.tolist() == [1, 1, -1, 3, -1]  # chunk 1: tie of rows 1 and 2 goes to 1
    some, of = layer.best_per_chunk(cosines, 5, np.array([1, 3]))  # these chunks only
    assert some.tolist() == pytest.approx([-1.0, 0.7, -1.0, -0.3, -1.0])
    assert of.tolist() == [-1, 1, -1, 3, -1]
    assert layer.sentences_of(np.array([0, 1])).tolist() == [0, 1, 2]
    assert layer.chunks_of(np.array([1, 3])).tolist() == [0, 1, 3]


def test_write_and_read_give_back_the_layer(tmp_path: Path, documents: dict[str, Document]) -> None:
    chunks = chunks_of(documents)
    sentences = tuple(split_sentences(list(documents.values()), chunks))
    rng = np.random.default_rng(3)
    vectors = normalise_rows(rng.standard_normal((len(sentences), 8)).astype(np.float32))
    layer = layer_of(sentences, vectors)
    write_sentences(tmp_path, layer)
    read = read_sentences(tmp_path)
    assert read.sentences == sentences
    np.testing.assert_array_equal(read.vectors, vectors)
    np.testing.assert_array_equal(read.typicality, layer.typicality)  # stored, not recomputed
    np.testing.assert_array_equal(read.pair_chunk, layer.pair_chunk)
    assert read.index.record() == layer.index.record()
    assert len((tmp_path / SENTENCES).read_text().splitlines()) == len(sentences)
    assert not np.load(tmp_path / SENTENCE_TYPICALITY, allow_pickle=False).dtype.hasobject


def test_read_refuses_arrays_that_do_not_match_the_sentences(tmp_path: Path) -> None:
    sentences = (Sentence("d", 0, 5, (0,)), Sentence("d", 6, 9, (0, 1)))
    write_sentences(tmp_path, layer_of(sentences, np.eye(2, 4, dtype=np.float32)))
    build(np.eye(3, 4, dtype=np.float32), choose_spec(3, 4)).save(tmp_path / SENTENCE_VECTORS)
    with pytest.raises(ValueError, match="holds 3 rows, expected 2"):
        read_sentences(tmp_path)
    build(np.eye(2, 4, dtype=np.float32), choose_spec(2, 4)).save(tmp_path / SENTENCE_VECTORS)
    np.save(tmp_path / SENTENCE_TYPICALITY, np.zeros((3, 1), dtype=np.float32))
    with pytest.raises(ValueError, match="expected 2 float32 rows"):
        read_sentences(tmp_path)
    np.save(tmp_path / SENTENCE_TYPICALITY, np.zeros(2, dtype=np.float32))  # no encoder column
    with pytest.raises(ValueError, match="expected 2 float32 rows"):
        read_sentences(tmp_path)


# --- typicality (rag.neighbours, as the layer computes it) ---------------------------------


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_the_layer_computes_each_encoders_typicality() -> None:
    first = np.stack([unit(1, 0, 0), unit(1, 1, 0), unit(0, 0, 1)])
    second = np.stack([unit(0, 1), unit(1, 0), unit(1, 1)])
    vectors = np.hstack([first, second]).astype(np.float32)
    sentences = tuple(Sentence("d", i, i + 1, ()) for i in range(3))
    layer = SentenceLayer.built(sentences, vectors, [slice(0, 3), slice(3, 5)])
    for column, block in enumerate((first, second)):
        cosines = block @ block.T
        expected = [np.sort(np.delete(cosines[r], r))[-2:].mean() for r in range(3)]
        assert layer.typicality[:, column] == pytest.approx(expected, abs=1e-6)


def test_a_generic_sentence_is_more_typical_than_a_specific_one() -> None:
    rng = np.random.default_rng(0)
    centre = unit(*rng.standard_normal(16))
    near_centre = normalise_rows(centre + 0.3 * rng.standard_normal((20, 16)).astype(np.float32))
    outlier = unit(*rng.standard_normal(16))
    vectors = np.vstack([near_centre, centre[None, :], outlier[None, :]]).astype(np.float32)
    typical = typicality(vectors, neighbours=5)
    assert typical[20] == typical.max()  # the centre is close to everything
    assert typical[21] == typical.min()


def test_the_same_wording_elsewhere_is_not_a_neighbour() -> None:
    """A template sentence sent by several submitters is not typical because of its copies."""
    vectors = np.stack([unit(1, 0, 0), unit(1, 0, 0), unit(1, 0, 0), unit(0, 1, 0), unit(1, 1, 0)])
    got = typicality(vectors, neighbours=1)
    assert got[0] == pytest.approx(float(unit(1, 0, 0) @ unit(1, 1, 0)))  # not 1.0 (its copies)


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 8)), max_size=12))
def test_spanned_lists_every_position_of_every_span_in_order(spans: list[tuple[int, int]]) -> None:
    lo = np.array([start for start, _ in spans], dtype=np.int64)
    hi = np.array([start + length for start, length in spans], dtype=np.int64)
    written_out = [p for start, length in spans for p in range(start, start + length)]
    assert spanned(lo, hi).tolist() == written_out
