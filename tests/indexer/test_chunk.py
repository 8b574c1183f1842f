"""Chunking: exact offsets, nothing lost, bounded length, right section and page per chunk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.build import load_metadata, load_sources, make_document
from indexer.chunk import after_headings, chunk_document
from indexer.clean import PARAGRAPH_BREAK, clean_pages, clean_text
from rag.config import ChunkSettings
from rag.types import Chunk, Document, Section

LETTERS = "abcdefghijklmnopqrstuvwxyzæøåABCDEFGHIJKLMNOPQRSTUVWXYZÆØÅ"
HYPOTHESIS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

words = st.text(alphabet=LETTERS, min_size=1, max_size=12)
headings = st.lists(words, min_size=1, max_size=8).map(" ".join).filter(lambda t: len(t) <= 90)
paragraphs = (
    st.text(alphabet=LETTERS + "æøå   \n.", min_size=1, max_size=600).map(str.strip).filter(bool)
)
# Text that repeats itself: the case where a piece fits several places in its section.
units = st.sampled_from(["ab ", "Ja. ", "Takk.", "\n", "x", "æøå, "])
periodic = st.tuples(
    st.lists(units, max_size=4).map("".join),
    st.lists(units, min_size=1, max_size=3).map("".join),
    st.integers(1, 150),
).map(lambda t: (t[0] + t[1] * t[2]).strip())
chunk_settings = st.builds(ChunkSettings, size=st.integers(100, 300), overlap=st.integers(0, 50))


@dataclass(frozen=True)
class Layout:
    """A document built from blocks, with what each character is: heading or body, and whose."""

    doc: Document
    heading_at: dict[int, int]  # start offset -> index into doc.sections
    owner: tuple[int | None, ...]  # per character: index of the section it belongs to
    in_heading: tuple[bool, ...]  # per character: part of a heading line (or its break)


def build_layout(blocks: list[tuple[str, str]]) -> Layout:
    pieces: list[str] = []
    sections: list[Section] = []
    owner: list[int | None] = []
    in_heading: list[bool] = []
    current: int | None = None
    for kind, text in blocks:
        if pieces:
            owner += [current] * len(PARAGRAPH_BREAK)
            in_heading += [bool(in_heading) and in_heading[-1]] * len(PARAGRAPH_BREAK)
        start = sum(map(len, pieces)) + len(PARAGRAPH_BREAK) * len(pieces)
        if kind == "heading":
            sections.append(Section(start, text))
            current = len(sections) - 1
        owner += [current] * len(text)
        in_heading += [kind == "heading"] * len(text)
        pieces.append(text)
    text = PARAGRAPH_BREAK.join(pieces)
    doc = Document(
        "doc", "doc.txt", "Ås kommune", "kommune", "t", text, "h", False, tuple(sections)
    )
    heading_at = {s.start: i for i, s in enumerate(sections)}
    return Layout(doc, heading_at, tuple(owner), tuple(in_heading))


blocks = st.lists(
    st.one_of(
        st.tuples(st.just("heading"), headings),
        st.tuples(st.just("paragraph"), paragraphs),
    ),
    min_size=1,
    max_size=12,
)


def document(text: str, page_starts: tuple[int, ...] = ()) -> Document:
    return Document(
        "doc", "doc.txt", "Ås kommune", "kommune", "t", text, "h", page_starts=page_starts
    )


def heading_run_length(layout: Layout, start: int) -> int:
    """Characters of the headings (with their breaks) that open a chunk starting at `start`."""
    end = start
    while end < len(layout.in_heading) and layout.in_heading[end] and end in layout.heading_at:
        title = layout.doc.sections[layout.heading_at[end]].title
        end += len(title) + len(PARAGRAPH_BREAK)
    return end - start


def assert_exact_and_complete(doc: Document, chunks: list[Chunk]) -> None:
    """Offsets exact, no empty chunk, in order, and every non-space character in some chunk."""
    covered = bytearray(len(doc.text))
    for i, chunk in enumerate(chunks):
        assert chunk.text == doc.text[chunk.start : chunk.end]
        assert chunk.text.strip() == chunk.text != ""
        assert chunk.chunk_id == f"{doc.document_id}:{i:04d}"
        assert chunk.document_id == doc.document_id
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    assert [c.start for c in chunks] == sorted({c.start for c in chunks})
    lost = [i for i, ch in enumerate(doc.text) if not ch.isspace() and not covered[i]]
    assert not lost, f"characters in no chunk: {lost[:10]}"


# --- properties --------------------------------------------------------------------------


@HYPOTHESIS
@given(st.text(alphabet=LETTERS + "æøå  \n.", max_size=1500), chunk_settings)
def test_plain_text_is_chunked_exactly_and_completely(text: str, cfg: ChunkSettings) -> None:
    doc = document(text)
    chunks = chunk_document(doc, cfg)
    assert_exact_and_complete(doc, chunks)
    assert all(c.end - c.start <= cfg.size for c in chunks)  # no headings: the size holds
    assert all(c.section is None and c.page is None for c in chunks)


@HYPOTHESIS
@given(periodic, chunk_settings)
def test_repetitive_text_loses_nothing(text: str, cfg: ChunkSettings) -> None:
    doc = document(text)
    chunks = chunk_document(doc, cfg)
    assert_exact_and_complete(doc, chunks)
    assert all(c.end - c.start <= cfg.size for c in chunks)


@HYPOTHESIS
@given(blocks, chunk_settings)
def test_sections_bound_and_own_their_chunks(
    blocks_: list[tuple[str, str]], cfg: ChunkSettings
) -> None:
    layout = build_layout(blocks_)
    doc = layout.doc
    chunks = chunk_document(doc, cfg)
    assert_exact_and_complete(doc, chunks)
    for chunk in chunks:
        # A chunk only grows past the size by the headings it opens with (never split off).
        assert chunk.end - chunk.start <= cfg.size + heading_run_length(layout, chunk.start)
        body = [i for i in range(chunk.start, chunk.end) if not layout.in_heading[i]]
        owners = {layout.owner[i] for i in body if not doc.text[i].isspace()}
        # Never across a heading: all body text of a chunk is under one heading ...
        assert len(owners) <= 1
        # ... and the chunk is labelled with that heading (or the last one it holds).
        expected = owners.pop() if owners else layout.owner[chunk.end - 1]
        assert chunk.section == (doc.sections[expected].title if expected is not None else None)


@HYPOTHESIS
@given(st.lists(st.text(alphabet=LETTERS + "  \n.", max_size=400), min_size=1, max_size=6))
def test_chunks_know_their_page(pages: list[str]) -> None:
    cleaned, page_starts = clean_pages(pages)
    doc = Document(
        "doc", "doc.pdf", "Ås kommune", "kommune", "t", cleaned.text, "h",
        sections=cleaned.sections, page_starts=page_starts,
    )  # fmt: skip
    page_of = {}
    for number, (start, page) in enumerate(zip(page_starts, pages, strict=True), start=1):
        page_of.update(dict.fromkeys(range(start, start + len(clean_text(page).text)), number))
    chunks = chunk_document(doc, ChunkSettings(size=100, overlap=20))
    assert_exact_and_complete(doc, chunks)
    for chunk in chunks:
        assert chunk.page == page_of[chunk.start]


# --- examples ----------------------------------------------------------------------------


def test_a_heading_is_never_a_chunk_of_its_own() -> None:
    body = "Fastlegene har for mange pasienter. " * 8
    layout = build_layout([("heading", "Samhandling"), ("paragraph", body.strip())])
    chunks = chunk_document(layout.doc, ChunkSettings(size=100, overlap=0))
    assert chunks[0].text.startswith("Samhandling\n\nFastlegene")
    assert all(c.text != "Samhandling" for c in chunks)
    assert {c.section for c in chunks} == {"Samhandling"}


def test_chunks_do_not_cross_into_the_next_section() -> None:
    layout = build_layout(
        [
            ("paragraph", "Innledning uten overskrift."),
            ("heading", "Digitalisering"),
            ("paragraph", "Journalsystemene må snakke sammen."),
            ("heading", "Akuttberedskap"),
            ("paragraph", "Legevakten trenger flere leger."),
        ]
    )
    chunks = chunk_document(layout.doc, ChunkSettings())
    assert [(c.section, c.text) for c in chunks] == [
        (None, "Innledning uten overskrift."),
        ("Digitalisering", "Digitalisering\n\nJournalsystemene må snakke sammen."),
        ("Akuttberedskap", "Akuttberedskap\n\nLegevakten trenger flere leger."),
    ]


def test_repetitive_text_is_located_where_it_is_not_where_it_first_occurs() -> None:
    doc = document(("ab " * 200).strip())
    chunks = chunk_document(doc, ChunkSettings(size=100, overlap=30))
    assert chunks[-1].end == len(doc.text)
    assert_exact_and_complete(doc, chunks)


# --- the seeds ---------------------------------------------------------------------------


def test_seeds_chunk_exactly_with_default_settings(seeds_dir: Path) -> None:
    raws, skipped = load_sources([seeds_dir])
    meta, unread = load_metadata([seeds_dir])
    cfg = ChunkSettings()
    assert not skipped and not unread and len(raws) == 5
    for raw in raws:
        doc = make_document(raw, meta[raw.source], raw.path.stem)
        chunks = chunk_document(doc, cfg)
        assert_exact_and_complete(doc, chunks)
        assert len(doc.text) / cfg.size <= len(chunks) <= 3 * len(doc.text) / cfg.size, raw.source
        lengths = sorted(c.end - c.start for c in chunks)
        assert lengths[len(lengths) // 2] >= cfg.size / 2, raw.source  # mostly full chunks
        for chunk in chunks:
            opening_headings = after_headings(doc.sections, chunk.start) - chunk.start
            assert chunk.end - chunk.start <= cfg.size + opening_headings
        assert {c.section for c in chunks} <= {s.title for s in doc.sections} | {None}
