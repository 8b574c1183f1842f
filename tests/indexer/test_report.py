"""The closing summary of `rag index`: honest about the cache, duplicates, skips and submitters."""

from __future__ import annotations

from pathlib import Path

from indexer.build import BuildReport
from indexer.report import format_report
from rag.manifest import DocumentEntry, DuplicateEntry, SkippedEntry

OUT = Path("data/index")


def entry(source: str, submitter: str, kind: str, origin: str) -> DocumentEntry:
    return DocumentEntry.model_validate(
        {"source": source, "document_id": source.split(".")[0], "content_hash": "h",
         "submitter": submitter, "submitter_type": kind, "submitter_origin": origin, "title": "T"}
    )  # fmt: skip


DOCUMENTS = (
    entry("moss.txt", "Moss kommune", "kommune", "metadata.csv"),
    entry("lege.pdf", "Den norske legeforening", "annen", "avsenderlinje"),
    entry("notat 7.txt", "notat 7", "ukjent", "filnavn"),
)


def report(embedded: int, cached: int, **extra: object) -> BuildReport:
    fields: dict[str, object] = {
        "out": OUT, "documents": DOCUMENTS, "chunks": 40, "embedded": embedded,
        "cached": cached, "skipped": (), "duplicates": (), "seconds": 2.0,
        "suggested_metadata": Path("data/metadata.suggested.csv"),
    }  # fmt: skip
    fields.update(extra)
    return BuildReport(**fields)  # type: ignore[arg-type]


def test_a_first_build_does_not_claim_anything_came_from_the_cache() -> None:
    text = format_report(report(embedded=40, cached=0))
    assert "cache" not in text.replace("(none were in the cache)", "")
    assert "40 passages embedded" in text


def test_a_partly_cached_build_says_how_many_of_each() -> None:
    text = format_report(report(embedded=5, cached=35))
    assert "5 passages embedded, 35 taken from the cache." in text


def test_a_fully_cached_build_says_nothing_was_embedded() -> None:
    assert "All 40 passages taken from the cache; nothing embedded." in format_report(
        report(embedded=0, cached=40)
    )


def test_an_unchanged_index_says_so_and_still_lists_the_submitters() -> None:
    text = format_report(report(embedded=0, cached=0, unchanged=True))
    assert "is up to date (3 documents, 40 chunks); nothing to do." in text
    assert "embedded" not in text
    assert "Den norske legeforening" in text


def test_the_table_lists_submitter_type_and_origin_of_every_document() -> None:
    lines = format_report(report(embedded=40, cached=0)).splitlines()
    rows = {line.split()[0]: line.split() for line in lines if line.startswith("  ")}
    assert rows["file"] == ["file", "submitter", "type", "from"]
    assert rows["moss.txt"][-2:] == ["kommune", "metadata.csv"]
    assert rows["lege.pdf"][-2:] == ["annen", "avsenderlinje"]
    assert rows["notat"][-2:] == ["ukjent", "filnavn"]


def test_guesses_duplicates_and_skips_are_named() -> None:
    text = format_report(
        report(
            embedded=40,
            cached=0,
            duplicates=(
                DuplicateEntry(
                    source="lege.docx", duplicate_of="lege", kind="near-identical", shared=0.96
                ),
            ),
            skipped=(SkippedEntry(path="scan.pdf", reason="no text layer"),),
        )
    )
    assert "lege.docx: near-identical to lege (96% of sentences shared)" in text
    assert "scan.pdf: no text layer" in text
    assert "2 submitter(s) not from metadata.csv" in text
    assert "data/metadata.suggested.csv" in text


def test_template_letters_are_named_once_per_group_not_once_per_pair() -> None:
    campaign = ("vestby", "frogn", "aas")
    members = tuple(
        entry(f"{i}.txt", i, "kommune", "metadata.csv").model_copy(
            update={"near_duplicates": tuple(o for o in campaign if o != i)}
        )
        for i in campaign
    )
    text = format_report(report(embedded=40, cached=0, documents=DOCUMENTS + members))
    assert "Template letters from different submitters (kept, marked): 1" in text
    assert "  3 documents: aas.txt, frogn.txt, vestby.txt" in text
    assert text.count("vestby.txt") == 2  # the submitter table and the group line


def test_a_build_of_hundreds_counts_submitters_and_lists_only_those_to_check() -> None:
    many = [entry(f"k{i:03}.txt", f"K{i} kommune", "kommune", "metadata.csv") for i in range(270)]
    many += [entry(f"o{i:02}.txt", f"Org {i}", "organisasjon", "metadata.csv") for i in range(27)]
    many += [
        entry("x1.pdf", "Forening X", "annen", "avsenderlinje"),
        entry("x2.txt", "x2", "ukjent", "filnavn"),
        entry("x3.txt", "x3", "ukjent", "filnavn"),
    ]
    template = tuple(d.document_id for d in many[:25])
    many = [d.model_copy(update={"near_duplicates": template}) if i < 25 else d
            for i, d in enumerate(many)]  # fmt: skip
    text = format_report(report(embedded=40, cached=0, documents=tuple(many)))
    lines = text.splitlines()
    assert len(lines) < 40
    assert (
        "Submitters of 300 documents by type: 270 kommune, 27 organisasjon, 2 ukjent, 1 annen"
        in (lines)
    )
    assert "  from: 297 metadata.csv, 2 filnavn, 1 avsenderlinje" in lines
    assert "Not from metadata.csv (3; check these):" in lines
    listed = {line.split()[0] for line in lines if line.startswith("  x")}
    assert listed == {"x1.pdf", "x2.txt", "x3.txt"}
    assert "k100.txt" not in text
    group = next(line for line in lines if line.startswith("  25 documents: "))
    assert group.endswith(" and 5 more") and group.count(".txt") == 20
