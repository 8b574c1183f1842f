"""Norwegian BM25: tokens, ranking, and a saved index that scores like the original."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.bm25 import Bm25Index, tokenize

CORPUS = [
    "Fastlegene har for mange pasienter, og kommunene trenger flere fastleger.",
    "Ventetiden for barn og unge med psykiske lidelser er for lang.",
    "Kommunen har bygget en ny vei til skolen.",
    "Journalsystemene må kunne dele informasjon mellom sykehus og kommune.",
    "",  # a chunk without words must not break the index
]


@pytest.fixture(scope="module")
def index() -> Bm25Index:
    return Bm25Index.build(CORPUS)


def test_stopwords_are_removed_and_words_lower_cased() -> None:
    assert tokenize("Det er viktig at KOMMUNENE og fastlegen samarbeider") == [
        "vikt",
        "kommun",
        "fast",
        "samarbeid",
    ]
    assert tokenize("og det er i på som for med at til") == []


@pytest.mark.parametrize(
    "forms",
    [
        ("kommunene", "kommunen", "kommuner", "kommune"),
        ("pasientene", "pasienten", "pasient"),
        ("helsetjenester", "helsetjenesten"),
    ],
)
def test_inflected_forms_share_a_stem(forms: tuple[str, ...]) -> None:
    stems = {tuple(tokenize(form)) for form in forms}
    assert len(stems) == 1 and len(next(iter(stems))) == 1


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ("Hvor lang er ventetiden for psykisk helsehjelp til unge?", 1),
        ("mangel på fastlege", 0),
        ("deling av informasjon i journalsystemet", 3),
    ],
)
def test_the_matching_document_ranks_first(index: Bm25Index, query: str, best: int) -> None:
    scores = index.scores(tokenize(query))
    assert scores.shape == (len(CORPUS),)
    assert int(np.argmax(scores)) == best
    assert scores[best] > np.delete(scores, best).max()


@pytest.mark.parametrize("query", ["xyzzy blorp", "og det er", ""])
def test_a_query_without_known_words_scores_zero_everywhere(index: Bm25Index, query: str) -> None:
    scores = index.scores(tokenize(query))
    assert scores.shape == (len(CORPUS),)
    assert not scores.any()


def test_the_empty_chunk_never_scores(index: Bm25Index) -> None:
    assert index.scores(tokenize("fastlegene kommunen vei skolen"))[-1] == 0


def test_save_and_load_give_the_same_scores(index: Bm25Index, tmp_path: Path) -> None:
    index.save(tmp_path / "bm25")
    loaded = Bm25Index.load(tmp_path / "bm25")
    for query in ["fastlegene i kommunene", "psykiske lidelser", "ukjentord"]:
        stems = tokenize(query)
        np.testing.assert_array_equal(loaded.scores(stems), index.scores(stems))
