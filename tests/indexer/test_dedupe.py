"""Duplicate submissions: which documents are one submission, which share text and how much."""

from __future__ import annotations

from indexer.dedupe import find_duplicates, mark_shared_text, sentence_set, shared_shares
from rag.types import Document, SubmitterOrigin

SENTENCES = [f"Setning nummer {n} handler om fastleger i kommunen." for n in range(10)]


def doc(
    doc_id: str,
    sentences: list[str],
    submitter: str = "Ås kommune",
    origin: SubmitterOrigin = "avsenderlinje",
    paged: bool = False,
) -> Document:
    text = "\n\n".join(["Høringssvar fra " + submitter, " ".join(sentences)])
    return Document(doc_id, f"{doc_id}.txt", submitter, "kommune", "T", text, "h",
                    submitter_origin=origin, page_starts=(0,) if paged else ())  # fmt: skip


def test_headings_and_short_sentences_do_not_count() -> None:
    text = (
        "Høringssvar fra Ås kommune\n\nMed vennlig hilsen.\n\nFastlegene har for mange pasienter."
    )
    assert sentence_set(text) == {"fastlegene har for mange pasienter"}


def test_near_identical_texts_from_one_submitter_are_one_submission() -> None:
    docs = [doc("a", SENTENCES), doc("b", [*SENTENCES, "En ekstra setning om legevakten her."])]
    shares = shared_shares([d.text for d in docs])
    assert shares == {(0, 1): 1.0, (1, 0): 10 / 11}
    (duplicate,) = find_duplicates(docs, shares)
    assert (duplicate.index, duplicate.kept, duplicate.kind) == (0, 1, "near-identical")


def test_below_ninety_percent_both_ways_they_stay_apart() -> None:
    extra = ["En ekstra setning om legevakten her.", "Enda en setning om sykehjemmene her."]
    docs = [doc("a", SENTENCES), doc("b", [*SENTENCES[:9], *extra])]
    shares = shared_shares([d.text for d in docs])
    assert find_duplicates(docs, shares) == []
    marked = mark_shared_text(docs, shares)
    assert marked[0].shared_text == {"b": 0.9} and marked[1].shared_text == {"a": round(9 / 11, 3)}
    assert marked[0].near_duplicates == marked[1].near_duplicates == ()


def test_the_curated_then_the_paged_document_is_kept() -> None:
    curated = doc("curated", SENTENCES, origin="metadata.csv")
    pdf = doc("pdf", SENTENCES, paged=True)
    plain = doc("plain", SENTENCES)
    docs = [plain, pdf, curated]
    duplicates = find_duplicates(docs, shared_shares([d.text for d in docs]))
    assert {(docs[d.index].document_id, docs[d.kept].document_id) for d in duplicates} == {
        ("plain", "curated"),
        ("pdf", "curated"),
    }
    duplicates = find_duplicates(docs[:2], shared_shares([d.text for d in docs[:2]]))
    assert [(d.index, d.kept, d.kind) for d in duplicates] == [(0, 1, "identical")]


def test_the_same_letter_from_two_submitters_is_kept_twice_and_marked() -> None:
    docs = [doc("vestby", SENTENCES, "Vestby kommune"), doc("frogn", SENTENCES, "Frogn kommune")]
    shares = shared_shares([d.text for d in docs])
    assert find_duplicates(docs, shares) == []
    marked = mark_shared_text(docs, shares)
    assert [d.near_duplicates for d in marked] == [("frogn",), ("vestby",)]
    assert marked[0].shared_text == {"frogn": 1.0}
