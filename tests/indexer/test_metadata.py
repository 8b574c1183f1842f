"""Submitter metadata: the curated CSV and the guess from a document's opening lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.metadata import SourceMetadata, guess_metadata, read_metadata
from rag.errors import SourceError

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
HEADER = "file,submitter,submitter_type,title\n"


def _seed_metadata() -> dict[str, SourceMetadata]:
    return read_metadata(SEEDS / "metadata.csv")


def test_seed_metadata_has_a_row_for_each_seed() -> None:
    metadata = _seed_metadata()

    assert sorted(metadata) == sorted(path.name for path in SEEDS.glob("*.txt"))
    assert {name: (m.submitter, m.submitter_type) for name, m in metadata.items()} == {
        "000_1151dadce9b0985f.txt": ("Moss kommune", "kommune"),
        "001_7127cb6351a76271.txt": ("Helsefellesskapet for Ahus og kommunene", "helsefellesskap"),
        "002_1929625cad19e101.txt": ("Stange kommune", "kommune"),
        "003_3d69ec6ad6cea8a3.txt": ("Bergen kommune", "kommune"),
        "004_fa6abfb1be789bfb.txt": ("Helsefellesskapet i Møre og Romsdal", "helsefellesskap"),
    }
    assert metadata["000_1151dadce9b0985f.txt"].title == (
        "Innspill til nasjonal helse- og samhandlingsplan fra Moss kommune"
    )
    assert not any(m.guessed for m in metadata.values())


def test_seed_titles_are_the_documents_own_opening_words() -> None:
    for name, meta in _seed_metadata().items():
        opening = " ".join((SEEDS / name).read_text(encoding="utf-8").split())
        assert opening.startswith(meta.title), name


@pytest.mark.parametrize("name", sorted(path.name for path in SEEDS.glob("*.txt")))
def test_guess_matches_the_curated_csv_for_each_seed(name: str) -> None:
    curated = _seed_metadata()[name]
    head = "\n".join((SEEDS / name).read_text(encoding="utf-8").splitlines()[:15])

    guessed = guess_metadata(name, head)

    assert guessed == SourceMetadata(
        submitter=curated.submitter,
        submitter_type=curated.submitter_type,
        title=curated.title,
        origin="avsenderlinje",
    )


def test_guess_without_a_known_submitter_uses_the_file_stem() -> None:
    text = "\n\n  Notat   om   legevakt  \nVi mener at legevakten bør styrkes.\n"

    guessed = guess_metadata("innspill_42.pdf", text)

    assert guessed == SourceMetadata(
        submitter="innspill_42",
        submitter_type="ukjent",
        title="Notat om legevakt",
        origin="filnavn",
    )


@pytest.mark.parametrize(
    ("text", "submitter", "submitter_type"),
    [
        ("Høringssvar\n\nVestland fylkeskommune viser til brevet.", "Vestland fylkeskommune",
         "fylkeskommune"),
        ("Innspill fra Nord-Aurdal kommune til departementet", "Nord-Aurdal kommune", "kommune"),
        ("Fra Indre Østfold kommune", "Indre Østfold kommune", "kommune"),
        ("Troms og Finnmark fylkeskommune takker", "Troms og Finnmark fylkeskommune",
         "fylkeskommune"),
        ("Helsefellesskapet Innlandet viser til høringen.", "Helsefellesskapet Innlandet",
         "helsefellesskap"),
        ("Høringssvar fra Den norske legeforening\n\nOslo kommune har pekt på LIS1.",
         "Den norske legeforening", "annen"),
        ("Den norske legeforening\n\nHøring om LIS1\n\nVi mener noe.",
         "Den norske legeforening", "annen"),
        ("Oslo kommune\nHøring om LIS1", "Oslo kommune", "kommune"),
    ],
)  # fmt: skip
def test_guess_recognises_common_submitter_phrasings(
    text: str, submitter: str, submitter_type: str
) -> None:
    guessed = guess_metadata("x.txt", text)

    assert (guessed.submitter, guessed.submitter_type) == (submitter, submitter_type)


@pytest.mark.parametrize(
    "text",
    [
        "Notat om LIS1\n\nVi har fått innspill fra Oslo kommune om LIS1.",
        "Innspill\n\nVi støtter forslaget. Oslo kommune viser til brevet.",
        "Helsefellesskapet Innlandet har drøftet saken.",
        "Om legevakt\n\nLegevakten i Bergen kommune er god.",
        "Regjeringen viser til høringen.",
    ],
)
def test_a_name_merely_mentioned_is_never_the_submitter(text: str) -> None:
    guessed = guess_metadata("innspill 7.pdf", text)

    assert (guessed.submitter, guessed.submitter_type, guessed.origin) == (
        "innspill 7",
        "ukjent",
        "filnavn",
    )


def test_a_file_name_submitter_carries_no_invisible_characters() -> None:
    assert guess_metadata("gpj\u202eexe.jpg.txt", "Notat").submitter == "gpjexe.jpg"


def test_guess_only_looks_at_the_opening() -> None:
    text = "Notat\n" + "Tekst uten avsender. " * 40 + "\nInnspill fra Moss kommune"

    assert guess_metadata("notat.txt", text).submitter_type == "ukjent"


def test_guessed_title_is_capped_at_200_characters() -> None:
    title = guess_metadata("lang.txt", "ord " * 100).title

    assert len(title) <= 200
    assert title == ("ord " * 50).rstrip()


def test_missing_metadata_file_gives_empty_mapping(tmp_path: Path) -> None:
    assert read_metadata(tmp_path / "metadata.csv") == {}


def test_metadata_accepts_quoted_fields_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "metadata.csv"
    path.write_text(
        HEADER + '\na.pdf,Ås kommune,kommune,"Innspill, med komma"\n\n', encoding="utf-8"
    )

    assert read_metadata(path) == {
        "a.pdf": SourceMetadata(
            "Ås kommune", "kommune", "Innspill, med komma", origin="metadata.csv"
        )
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (HEADER + "a.txt,Moss kommune,kommune,Tittel\nb.txt,Bergen kommune\n",
         r"metadata\.csv line 3: expected 4 fields .* got 2"),
        (HEADER + "a.txt,,kommune,Tittel\n", r"line 2: empty 'submitter'"),
        (HEADER + "a.txt,Moss kommune,kommune,T\na.txt,Moss kommune,kommune,T\n",
         r"line 3: duplicate file 'a.txt'"),
        (HEADER + "seeds/a.txt,Moss kommune,kommune,T\n", r"line 2: 'file' must be a bare"),
        ("fil,innsender\na.txt,Moss kommune\n", r"line 1: header must be"),
    ],
)  # fmt: skip
def test_malformed_metadata_names_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "metadata.csv"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(SourceError, match=message):
        read_metadata(path)


def test_metadata_that_is_not_utf8_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "metadata.csv"
    path.write_bytes(HEADER.encode() + "a.txt,Bærum kommune,kommune,T\n".encode("latin-1"))

    with pytest.raises(SourceError, match="not valid UTF-8"):
        read_metadata(path)
