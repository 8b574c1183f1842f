"""Loading source files: every format, and every way a file can be unusable."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from indexer.formats import SUPPORTED_SUFFIXES
from indexer.sources import RawDocument, discover, load_file
from rag.errors import SourceError
from rag.types import SkippedFile

PAGE_ONE = "Fastlegeordningen er under press. Bærum og Ås."
PAGE_TWO = "Samhandling på tvers av nivåene: «øke kapasiteten»."


def _write_pdf(path: Path, pages: list[str]) -> Path:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    path.write_bytes(bytes(pdf.output()))
    return path


def _write_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Innspill fra Ås kommune", level=1)
    document.add_paragraph("Første avsnitt om fastleger.")
    document.add_heading("Tiltak", level=2)
    document.add_paragraph("Andre avsnitt om sykehjem.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Tiltak"
    table.cell(0, 1).text = "Kostnad"
    table.cell(1, 0).text = "Flere fastleger"
    table.cell(1, 1).text = "Høy"
    document.add_paragraph("Etter tabellen.")
    document.save(str(path))
    return path


# --- formats --------------------------------------------------------------------------------


def test_pdf_gives_one_text_per_page(tmp_path: Path) -> None:
    path = _write_pdf(tmp_path / "innspill.pdf", [PAGE_ONE, PAGE_TWO])

    raw = load_file(path)

    assert raw.paged is True
    assert raw.source == "innspill.pdf"
    assert [page.strip() for page in raw.pages] == [PAGE_ONE, PAGE_TWO]


def test_pdf_without_text_layer_is_rejected(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    path = tmp_path / "skannet.pdf"
    path.write_bytes(bytes(pdf.output()))

    with pytest.raises(SourceError, match=r"PDF has no text layer \(scanned\?\)"):
        load_file(path)


def test_docx_keeps_headings_paragraphs_and_table_cells_in_order(tmp_path: Path) -> None:
    raw = load_file(_write_docx(tmp_path / "innspill.docx"))

    assert raw.paged is False
    assert len(raw.pages) == 1
    assert raw.pages[0].split("\n") == [
        "Innspill fra Ås kommune",
        "Første avsnitt om fastleger.",
        "Tiltak",
        "Andre avsnitt om sykehjem.",
        "Tiltak\tKostnad",
        "Flere fastleger\tHøy",
        "Etter tabellen.",
    ]


def test_html_drops_script_and_style_and_unescapes_entities(tmp_path: Path) -> None:
    html = """<!DOCTYPE html><html><head><title>Innspill</title>
    <style>body { color: red; }</style><script>var x = "<p>skjult</p>";</script></head>
    <body><h1>Innspill fra B&aelig;rum kommune</h1>
    <p>Fastleger &amp; sykehjem &lt;viktig&gt;,
       med   ekstra
       mellomrom.</p><div>Linje en<br>Linje to</div>
    <ul><li>Punkt &#229;n</li><li>Punkt to</li></ul>
    <!-- en kommentar -->
    </body></html>"""
    path = tmp_path / "side.html"
    path.write_text(html, encoding="utf-8")

    text = load_file(path).pages[0]
    lines = [line for line in text.split("\n") if line]

    assert lines == [
        "Innspill",
        "Innspill fra Bærum kommune",
        "Fastleger & sykehjem <viktig>, med ekstra mellomrom.",
        "Linje en",
        "Linje to",
        "Punkt ån",
        "Punkt to",
    ]
    assert "color" not in text
    assert "skjult" not in text
    assert "kommentar" not in text


def test_htm_and_md_and_txt_are_read_as_text(tmp_path: Path) -> None:
    (tmp_path / "a.htm").write_text("<p>Fra Moss kommune</p>", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Overskrift\n\n*Uthevet* tekst\n", encoding="utf-8")
    (tmp_path / "c.txt").write_bytes(b"\xef\xbb\xbfMed BOM: \xc3\xa6\xc3\xb8\xc3\xa5\n")

    assert load_file(tmp_path / "a.htm").pages == ("Fra Moss kommune",)
    assert load_file(tmp_path / "b.md").pages == ("# Overskrift\n\n*Uthevet* tekst\n",)
    assert load_file(tmp_path / "c.txt").pages == ("Med BOM: æøå\n",)


def test_content_hash_is_sha256_of_the_bytes(tmp_path: Path) -> None:
    data = b"Innspill fra Stange kommune\n"
    path = tmp_path / "stange.txt"
    path.write_bytes(data)

    raw = load_file(path)

    assert raw == RawDocument(
        path=path,
        source="stange.txt",
        pages=("Innspill fra Stange kommune\n",),
        paged=False,
        content_hash=hashlib.sha256(data).hexdigest(),
    )


def test_cp1252_is_accepted_when_it_decodes_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "gammel.txt"
    path.write_bytes("Bærum – «innspill»\r\n".encode("cp1252"))

    assert load_file(path).pages == ("Bærum – «innspill»\r\n",)


# --- unusable files ------------------------------------------------------------------------


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "tom.txt"
    path.write_bytes(b"")

    with pytest.raises(SourceError, match=r"empty file \(0 bytes\)"):
        load_file(path)


def test_whitespace_only_file_has_no_text(tmp_path: Path) -> None:
    path = tmp_path / "blank.md"
    path.write_text(" \n\t\n", encoding="utf-8")

    with pytest.raises(SourceError, match="no extractable text"):
        load_file(path)


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html"])
def test_binary_text_file_is_rejected(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"bilde{suffix}"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

    with pytest.raises(SourceError, match="binary content"):
        load_file(path)


def test_invalid_utf8_with_control_characters_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "rot.txt"
    # 0xff is invalid UTF-8; cp1252 would decode it, but 0x07 (bell) is a stray control char.
    path.write_bytes(b"Innspill \xff\x07 fra kommunen")

    message = r"not valid UTF-8 text \(invalid byte 0xff at offset 9\)"
    with pytest.raises(SourceError, match=message):
        load_file(path)


def test_invalid_utf8_undecodable_in_cp1252_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "rot.md"
    path.write_bytes(b"Innspill \x81 fra kommunen")  # 0x81 is undefined in cp1252

    with pytest.raises(SourceError, match="not valid UTF-8 text"):
        load_file(path)


def test_corrupt_pdf_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "ødelagt.pdf"
    path.write_bytes(random.Random(7).randbytes(2048))

    with pytest.raises(SourceError, match="corrupt or unreadable PDF"):
        load_file(path)


def test_truncated_pdf_is_rejected(tmp_path: Path) -> None:
    whole = _write_pdf(tmp_path / "hel.pdf", [PAGE_ONE]).read_bytes()
    path = tmp_path / "avkortet.pdf"
    path.write_bytes(whole[: len(whole) // 3])

    with pytest.raises(SourceError, match="PDF"):
        load_file(path)


def test_corrupt_docx_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "ødelagt.docx"
    path.write_bytes(random.Random(7).randbytes(2048))

    with pytest.raises(SourceError, match=r"corrupt or unreadable DOCX \(BadZipFile"):
        load_file(path)


def test_load_file_rejects_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "regneark.xlsx"
    path.write_bytes(b"PK\x03\x04")

    with pytest.raises(SourceError, match=r"unsupported file type '\.xlsx'"):
        load_file(path)


def test_missing_file_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read file"):
        load_file(tmp_path / "borte.txt")


# --- discover ------------------------------------------------------------------------------


def test_discover_expands_folders_recursively_in_sorted_order(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "b_mappe").mkdir(parents=True)
    (corpus / ".skjult").mkdir()
    for name in ["c.txt", "a.pdf", "b_mappe/z.docx", "b_mappe/d.HTML", ".skjult/x.txt",
                 ".gitkeep", ".utkast.txt", "metadata.csv"]:  # fmt: skip
        (corpus / name).write_bytes(b"x")

    found, skipped = discover([corpus])

    assert found == [corpus / "a.pdf", corpus / "b_mappe/d.HTML", corpus / "b_mappe/z.docx",
                     corpus / "c.txt"]  # fmt: skip
    assert skipped == []


def test_discover_reports_unknown_suffix_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "notat.xyz").write_bytes(b"x")
    (tmp_path / "innspill.txt").write_bytes(b"x")
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))

    found, skipped = discover([tmp_path / "borte.pdf", tmp_path])

    assert found == [tmp_path / "innspill.txt"]
    assert skipped == [
        SkippedFile(path=str(tmp_path / "borte.pdf"), reason="file not found"),
        SkippedFile(
            path=str(tmp_path / "notat.xyz"),
            reason=f"unsupported file type '.xyz' (supported: {supported})",
        ),
    ]
    assert supported == ".docx, .htm, .html, .md, .pdf, .txt"


def test_discover_lists_a_file_named_twice_once(tmp_path: Path) -> None:
    path = tmp_path / "innspill.md"
    path.write_bytes(b"x")

    found, skipped = discover([path, tmp_path, path])

    assert found == [path]
    assert skipped == []


def test_discover_on_seeds_finds_the_five_texts() -> None:
    seeds = Path(__file__).resolve().parents[2] / "seeds"

    found, skipped = discover([seeds])

    assert [path.name for path in found] == sorted(path.name for path in seeds.glob("*.txt"))
    assert len(found) == 5
    assert skipped == []
    assert all(load_file(path).pages[0].strip() for path in found)
