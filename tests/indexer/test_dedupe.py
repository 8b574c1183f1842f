"""Duplicate submissions: which documents are one submission, which share text and how much."""

from __future__ import annotations

import random

from indexer.dedupe import (
    TEMPLATE_SHARE,
    candidate_pairs,
    find_duplicates,
    mark_shared_text,
    overlaps,
    sentence_set,
    shared_shares,
    template_groups,
)
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


def test_below_ninety_percent_both_ways_they_stay_two_documents_of_one_template() -> None:
    extra = ["En ekstra setning om legevakten her.", "Enda en setning om sykehjemmene her."]
    docs = [doc("a", SENTENCES), doc("b", [*SENTENCES[:9], *extra])]
    shares = shared_shares([d.text for d in docs])
    assert find_duplicates(docs, shares) == []
    marked = mark_shared_text(docs, shares)
    assert marked[0].shared_text == {"b": 0.9} and marked[1].shared_text == {"a": round(9 / 11, 3)}
    assert (marked[0].near_duplicates, marked[1].near_duplicates) == (("b",), ("a",))


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


# --- template groups --------------------------------------------------------------------------

TEMPLATE = [
    "{name} viser til høringen om Nasjonal helse- og samhandlingsplan.",
    "{name} mener at fastlegeordningen må styrkes med flere hjemler.",
    "Rekrutteringen av fastleger er krevende i {place}.",
    "Legevakten bør samarbeide tettere med de andre kommunene i regionen.",
    "Staten må ta et større ansvar for finansieringen av allmennlegetjenesten.",
    "Vi ber om at planen følges opp med konkrete tiltak og midler.",
]


def campaign_letter(doc_id: str, place: str, own: list[str] | None = None) -> Document:
    name = f"{place} kommune"
    lines = [t.format(name=name, place=place) for t in TEMPLATE] + (own or [])
    return doc(doc_id, lines, submitter=name)


def test_a_template_naming_each_sender_is_one_group_once_the_sender_is_masked() -> None:
    """Half the template's sentences name the sender: unmasked, the letters share only half."""
    letters = [campaign_letter("vestby", "Vestby"), campaign_letter("frogn", "Frogn")]
    texts = [d.text for d in letters]
    assert shared_shares(texts) == {(0, 1): 0.5, (1, 0): 0.5}
    shares = shared_shares(texts, [d.submitter for d in letters])
    assert shares == {(0, 1): 1.0, (1, 0): 1.0}
    assert [d.near_duplicates for d in mark_shared_text(letters, shares)] == [
        ("frogn",),
        ("vestby",),
    ]


OWN = [
    "Vi har egne erfaringer med interkommunalt samarbeid om legevakt.",
    "Kommunen har også lange ventelister for fysioterapi.",
]


def test_senders_sharing_four_fifths_are_flagged_and_a_letter_sharing_less_is_not() -> None:
    """Letters that share 75-86 % of their sentences both ways are one template group (it took
    90 %: three organisations sharing 79-87 % were not flagged); a letter most of whose text is
    in another, but not the other way round, is not."""
    letters = [
        campaign_letter("a", "Ås"),
        campaign_letter("b", "Vestby", OWN[:1]),  # 6 of its 7 sentences are the template's
        campaign_letter("c", "Frogn", OWN),  # 6 of 8
        doc(
            "d", [*TEMPLATE[3:6], *OWN, "Et tredje eget punkt om sykehjemmene her."], "Moss kommune"
        ),
    ]
    shares = shared_shares([d.text for d in letters], [d.submitter for d in letters])
    assert template_groups(len(letters), shares) == [[0, 1, 2]]
    marked = mark_shared_text(letters, shares)
    assert [d.near_duplicates for d in marked] == [("b", "c"), ("a", "c"), ("a", "b"), ()]
    assert marked[2].shared_text["a"] == TEMPLATE_SHARE
    assert marked[0].shared_text == {"b": 1.0, "c": 1.0, "d": 0.5}
    assert marked[3].shared_text == {"a": 0.5, "b": round(4 / 6, 3), "c": round(5 / 6, 3)}
    assert marked[2].shared_text["d"] == 0.625  # c's text is not mostly d's: d is no member


def test_shared_text_lists_only_documents_holding_half_of_a_documents_sentences() -> None:
    base = [f"Setning nummer {n} handler om legevakt i kommunen." for n in range(10)]
    docs = [
        doc("a", base),
        doc("b", [*base[:5], *(s.replace("legevakt", "tannhelse") for s in base[5:])]),
        doc("c", [*base[:4], *(s.replace("legevakt", "rus") for s in base[4:])]),
    ]
    marked = mark_shared_text(docs, shared_shares([d.text for d in docs]))
    assert marked[0].shared_text == {"b": 0.5}  # c holds 4 of a's 10: not listed
    assert marked[1].shared_text == {"a": 0.5}
    assert marked[2].shared_text == {}


def test_prefix_filtering_finds_exactly_what_comparing_all_pairs_finds() -> None:
    rng = random.Random(7)
    pool = [f"s{n}" for n in range(60)]
    for _ in range(20):
        sets = [frozenset(rng.sample(pool, rng.randint(0, 25))) for _ in range(30)]
        for minimum in (0.3, 0.5, 0.75, 0.9):
            brute = {
                (i, j): len(a & b) / len(a)
                for i, a in enumerate(sets)
                for j, b in enumerate(sets)
                if i != j and a and len(a & b) and len(a & b) / len(a) >= minimum - 1e-12
            }
            assert overlaps(sets, minimum) == brute


def test_a_sentence_every_letter_holds_makes_no_pair_to_compare() -> None:
    """Boilerplate shared by all is never among a letter's rarest sentences, so a thousand
    letters that share only it are not compared with each other (all pairs: half a million)."""
    common = frozenset(f"felles setning {n}" for n in range(3))
    sets = [common | {f"egen setning {i} {n}" for n in range(7)} for i in range(1000)]
    assert candidate_pairs(sets, 0.5) == {}
    assert overlaps(sets, 0.5) == {}
