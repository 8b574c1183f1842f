"""Cleaning PDF-extracted text: paragraphs rebuilt, artefacts removed, headings located."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from indexer.chunk import chunk_document
from indexer.clean import clean_pages, clean_text
from rag.config import ChunkSettings
from rag.types import Document, Section

# Every glyph the cleaner treats as a bullet, including the Symbol-font private-use range.
BULLET_GLYPHS = re.compile(r"[●•▪■◦○◆❖➢►▸‣⁃\uf000-\uf0ff]")


def assert_sections_exact(text: str, sections: tuple[Section, ...]) -> None:
    for section in sections:
        assert text[section.start : section.start + len(section.title)] == section.title
    assert [s.start for s in sections] == sorted(s.start for s in sections)


def titles(sections: tuple[Section, ...]) -> list[str]:
    return [s.title for s in sections]


# --- PDF artefacts -----------------------------------------------------------------------


@pytest.mark.parametrize("glyph", ["●", "•", "\uf0b7", "▪"])
def test_bullet_glyphs_become_dash_list_items(glyph: str) -> None:
    raw = (
        "Vi foreslår disse tiltakene:\n"
        f"{glyph} Flere fastleger \n"
        f"{glyph} Bedre samarbeid med \n"
        "spesialisthelsetjenesten\n"
        f"{glyph}Kortere ventetid\n"
    )
    assert clean_text(raw).text == (
        "Vi foreslår disse tiltakene:\n\n"
        "- Flere fastleger\n"
        "- Bedre samarbeid med spesialisthelsetjenesten\n"
        "- Kortere ventetid"
    )


def test_blank_line_from_a_page_break_inside_a_sentence_is_joined() -> None:
    raw = (
        "Befolkningsutviklingen vil øke behovet for helsetjenester og \n"
        "\n"
        "institusjonskapasitet i kommunene. \n"
    )
    assert clean_text(raw).text == (
        "Befolkningsutviklingen vil øke behovet for helsetjenester og "
        "institusjonskapasitet i kommunene."
    )


def test_lines_broken_mid_sentence_are_joined_with_one_space() -> None:
    raw = "Det er viktig å \nprioritere videreutvikling av\njournalsystemene.\n"
    assert clean_text(raw).text == (
        "Det er viktig å prioritere videreutvikling av journalsystemene."
    )


def test_finished_sentences_on_separate_paragraphs_stay_apart() -> None:
    raw = "Første avsnitt slutter her.\n\nAndre avsnitt begynner her.\n"
    assert clean_text(raw).text == "Første avsnitt slutter her.\n\nAndre avsnitt begynner her."


def test_url_repeated_on_consecutive_lines_appears_once() -> None:
    url = "https://helse-sorost.no/om-oss/digitalt-oversettelsesverktoy"
    other = "https://www.helsenorge.no/gravid/"
    raw = f"Se lenkene.\n\n{url}\n{url}\n{url}\n{other}\n"
    text = clean_text(raw).text
    assert text.count(url) == 1
    assert text.count(other) == 1  # a different URL on the next line is kept


def test_spaces_are_collapsed_and_no_line_ends_with_a_space() -> None:
    raw = "Moss  kommune\u00a0 har\tgod erfaring.   \nDet er bra.  \n\n- Punkt  \n"
    text = clean_text(raw).text
    assert text == "Moss kommune har god erfaring. Det er bra.\n\n- Punkt"


def test_page_number_lines_are_dropped() -> None:
    raw = "Slutten av en side.\n\n12\n\nNeste side starter her.\n"
    assert clean_text(raw).text == "Slutten av en side.\n\nNeste side starter her."


def test_sentence_interrupted_by_a_page_number_is_rejoined() -> None:
    raw = "Det er viktig å øke behovet for \n\n7 \n\nhelsetjenester i kommunene.\n"
    assert clean_text(raw).text == "Det er viktig å øke behovet for helsetjenester i kommunene."


# --- headings ----------------------------------------------------------------------------


def test_headings_are_found_with_exact_offsets() -> None:
    raw = (
        "Innspill fra Moss kommune \n\n"
        "Vi viser til invitasjonen. \n\n"
        "Psykisk helse- og rus \n"
        "For å sikre et helhetlig tilbud må kommunene og \n"
        "helseforetakene samarbeide. \n\n"
        "2. Hvilke tiltak er aktuelle? \n"
        "Flere fastleger. \n"
    )
    cleaned = clean_text(raw)
    assert titles(cleaned.sections) == [
        "Innspill fra Moss kommune",
        "Psykisk helse- og rus",
        "2. Hvilke tiltak er aktuelle?",
    ]
    assert_sections_exact(cleaned.text, cleaned.sections)


def test_a_short_line_that_carries_on_a_sentence_is_not_a_heading() -> None:
    raw = "Vi har mange tiltak. Det gjelder\nsærlig unge.\n\nSamhandling\nFastlegene er viktige.\n"
    cleaned = clean_text(raw)
    assert titles(cleaned.sections) == ["Samhandling"]
    assert cleaned.text.startswith("Vi har mange tiltak. Det gjelder særlig unge.")
    assert_sections_exact(cleaned.text, cleaned.sections)


def test_a_line_ending_with_a_full_stop_is_not_a_heading() -> None:
    raw = "Innledning\n\nKort setning.\n\nNeste avsnitt.\n"
    assert titles(clean_text(raw).sections) == ["Innledning"]


# --- pages -------------------------------------------------------------------------------


def test_clean_pages_records_where_each_page_starts() -> None:
    pages = [
        "Første side har tekst.\n\nOverskrift en\nMer tekst på side en.\n",
        "",  # a page without a text layer
        "Tredje side.\n\nOverskrift tre\nSlutt på dokumentet.\n",
    ]
    cleaned, page_starts = clean_pages(pages)
    assert len(page_starts) == 3
    assert page_starts[0] == 0
    assert cleaned.text[page_starts[2] :].startswith("Tredje side.")
    assert page_starts[1] == page_starts[2]  # the empty page takes no room
    assert titles(cleaned.sections) == ["Overskrift en", "Overskrift tre"]
    assert cleaned.sections[1].start > page_starts[2]
    assert_sections_exact(cleaned.text, cleaned.sections)
    assert cleaned.text == "\n\n".join(clean_text(p).text for p in pages if p)


# --- the real seeds ----------------------------------------------------------------------


def test_seed_000_is_clean_and_has_its_headings(seeds_dir: Path) -> None:
    (seed,) = seeds_dir.glob("000_*.txt")
    cleaned = clean_text(seed.read_text(encoding="utf-8"))
    for expected in [
        "Samhandling",
        "Psykisk helse- og rus",
        "Digitalisering",
        "Personell og kompetanse",
        "Akuttberedskap",
    ]:
        assert expected in titles(cleaned.sections)
    assert_sections_exact(cleaned.text, cleaned.sections)
    assert not [line for line in cleaned.text.split("\n") if line != line.rstrip()]


def test_every_seed_loses_its_pdf_artefacts(seed_files: list[Path]) -> None:
    for seed in seed_files:
        raw = seed.read_text(encoding="utf-8")
        cleaned = clean_text(raw)
        assert BULLET_GLYPHS.search(cleaned.text) is None, seed.name
        assert not [line for line in cleaned.text.split("\n") if line != line.strip()], seed.name
        assert "\n\n\n" not in cleaned.text, seed.name
        assert_sections_exact(cleaned.text, cleaned.sections)
    assert any(BULLET_GLYPHS.search(s.read_text(encoding="utf-8")) for s in seed_files)


# --- invisible characters ----------------------------------------------------------------

INVISIBLE = [
    "\u00ad", "\u061c", "\u180e", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f",
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2060", "\u2061", "\u2062", "\u2063",
    "\u2064", "\u2066", "\u2067", "\u2068", "\u2069", "\ufeff",
]  # fmt: skip


def test_a_bidi_override_cannot_disguise_a_file_name() -> None:
    # Shown by a browser as «exe.jpg»; stored, it must read as what it is.
    raw = "Vedlagt er bildet \u202egpj.exe\u202c fra befaringen.\n"
    assert clean_text(raw).text == "Vedlagt er bildet gpj.exe fra befaringen."


@pytest.mark.parametrize("char", INVISIBLE)
def test_every_invisible_formatting_character_is_removed(char: str) -> None:
    raw = f"Fast{char}legene har for mange pasienter.{char}\n\n{char}Samhandling{char}\n"
    cleaned = clean_text(raw)
    assert cleaned.text == "Fastlegene har for mange pasienter.\n\nSamhandling"
    assert_sections_exact(cleaned.text, cleaned.sections)


def test_offsets_stay_exact_in_the_cleaned_text_after_invisible_characters() -> None:
    pages = [
        "Innspill\u200b fra \u2066Moss\u2069 kommune\n\nSamhandling\n"
        + "Fastlegene\u00ad har for \u202emange\u202c pasienter på listene sine. " * 12,
        "Digitalisering\n\u200dJournalsystemene\u2060 må snakke sammen. " * 10,
    ]
    cleaned, page_starts = clean_pages(pages)
    assert not any(ch in cleaned.text for ch in INVISIBLE)
    doc = Document("moss", "moss.pdf", "Moss kommune", "kommune", "T", cleaned.text, "h",
                   sections=cleaned.sections, page_starts=page_starts)  # fmt: skip
    chunks = chunk_document(doc, ChunkSettings(size=150, overlap=20))
    assert len(chunks) > 4
    for chunk in chunks:
        assert chunk.text == cleaned.text[chunk.start : chunk.end]
    assert_sections_exact(cleaned.text, cleaned.sections)
    assert "Innspill fra Moss kommune" in cleaned.text


def test_unicode_line_separators_become_line_breaks() -> None:
    assert clean_text("Første avsnitt.\u2029\u2029Andre avsnitt.").text == (
        "Første avsnitt.\n\nAndre avsnitt."
    )
