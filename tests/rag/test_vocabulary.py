"""The corpus's vocabulary: which words it holds, how close a question's words come to them,
and how that coverage lowers the support of an answer."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from fakes import FakeEmbedder, fake_policy
from numpy.typing import NDArray

from rag.bm25 import Bm25Index
from rag.config import AnswerSettings, RetrievalSettings
from rag.decide import Decision, decide
from rag.lexical import content_terms
from rag.policy import Policy
from rag.query import Query, QueryParser, name_stems, submitter_names, topic_terms
from rag.retrieve import Retriever
from rag.store import load_index
from rag.types import NO_FILTERS, Document
from rag.vocabulary import (
    VOCABULARY_VECTORS,
    Vocabulary,
    corpus_words,
    coverage,
    read_vocabulary,
    write_vocabulary,
)

if TYPE_CHECKING:
    from conftest import Corpus


def document(text: str, document_id: str = "d") -> Document:
    return Document(document_id, f"{document_id}.txt", "D kommune", "kommune", "D", text, "h")


def unit(*values: float) -> NDArray[np.float32]:
    vector = np.array(values, dtype=np.float32)
    normalised: NDArray[np.float32] = vector / np.linalg.norm(vector)
    return normalised


def test_corpus_words_are_the_distinct_content_words_without_numbers() -> None:
    words = corpus_words(
        [
            document("Fastlegene i kommunen har 1200 pasienter og LIS1-stillinger."),
            document("Kommunen og fastlegene samarbeider.", "e"),
        ]
    )
    assert words == ("fastlegene", "kommunen", "pasienter", "samarbeider", "stillinger")


def test_coverage_counts_known_words_whole_and_unknown_ones_by_their_closest_word() -> None:
    assert coverage(4, np.array([], dtype=np.float32)) == 1.0
    assert coverage(4, np.array([0.9, 0.8], dtype=np.float32)) == pytest.approx(3.7 / 4)
    assert coverage(1, np.array([0.88], dtype=np.float32)) == pytest.approx(0.88)
    assert coverage(0, np.array([], dtype=np.float32)) == 1.0  # nothing asked, nothing unknown


def test_closest_is_the_best_cosine_to_any_corpus_word() -> None:
    vocabulary = Vocabulary.built(("a", "b"), np.stack([unit(1, 0, 0), unit(0, 1, 0)]))
    asked = np.stack([unit(1, 1, 0), unit(0, 0, 1), unit(0, 1, 0)])
    np.testing.assert_allclose(vocabulary.closest(asked), [2**-0.5, 0.0, 1.0], atol=1e-6)
    assert vocabulary.closest(np.empty((0, 3), dtype=np.float32)).shape == (0,)
    empty = Vocabulary.built((), np.empty((0, 3), dtype=np.float32))
    assert empty.closest(asked).tolist() == [0.0, 0.0, 0.0]


def test_the_vocabulary_survives_writing_and_reading(tmp_path: Path) -> None:
    vocabulary = Vocabulary.built(("ørken", "åsen"), np.stack([unit(1, 2), unit(2, 1)]))
    write_vocabulary(tmp_path, vocabulary)
    read = read_vocabulary(tmp_path)
    assert read.words == vocabulary.words
    every = np.arange(2)
    np.testing.assert_array_equal(read.index.vectors(every), vocabulary.index.vectors(every))
    Vocabulary.built(("ørken",), np.stack([unit(1, 2)])).index.save(tmp_path / VOCABULARY_VECTORS)
    with pytest.raises(ValueError, match="holds 1 rows, expected 2"):
        read_vocabulary(tmp_path)


def test_topic_terms_leave_out_phrasing_scope_and_numbers() -> None:
    question = content_terms("Hva sier kommunene om astma og astma for barn i 2016?", query=True)
    assert [t.word for t in topic_terms(question)] == ["astma", "barn"]


class Recording:
    """An embed function that records what it was asked and answers from a table."""

    def __init__(self, vectors: dict[str, NDArray[np.float32]], dimension: int) -> None:
        self.vectors, self.dimension = vectors, dimension
        self.asked: list[list[str]] = []

    def __call__(
        self, texts: Sequence[str], words: Sequence[str]
    ) -> tuple[list[NDArray[np.float32]], list[NDArray[np.float32]]]:
        self.asked.append([*texts, *words])
        every = [self.vectors.get(t, unit(*[1.0] * self.dimension)) for t in [*texts, *words]]
        return every[: len(texts)], every[len(texts) :]


def test_the_parser_embeds_only_unknown_words_with_the_question_and_counts_them() -> None:
    documents = {"d": document("Fastlegene i kommunen trenger flere legevakter.")}
    bm25 = Bm25Index.build([documents["d"].text])
    vocabulary = Vocabulary.built(
        ("fastlegene", "legevakter"), np.stack([unit(1, 0, 0, 0), unit(0, 1, 0, 0)])
    )
    embed = Recording({"astma": unit(0, 0, 1, 0), "tannlegene": unit(0.6, 0, 0.8, 0)}, 4)
    stems, names = name_stems(documents.values()), submitter_names(documents.values())
    parser = QueryParser(documents, bm25, embed, 2000, stems, vocabulary, names)

    known = parser.parse("Hva sier kommunene om fastlegene og legevakten?", NO_FILTERS)
    assert known.vocabulary_coverage == 1.0
    assert embed.asked[-1] == ["Hva sier kommunene om fastlegene og legevakten?"]

    unknown = parser.parse("Hva sier innspillene om astma og tannlegene?", NO_FILTERS)
    assert embed.asked[-1][1:] == ["astma", "tannlegene"]  # one call, with the question
    # «astma» is far from every corpus word (0), «tannlegene» 0.6 from «fastlegene»
    assert unknown.vocabulary_coverage == pytest.approx((0.0 + 0.6) / 2, abs=1e-6)

    searched = parser.parse("Hva sier innspillene om astma?", NO_FILTERS, answering=False)
    assert searched.vocabulary_coverage is None
    assert embed.asked[-1] == ["Hva sier innspillene om astma?"]  # /search embeds no words


def test_unknown_words_lower_the_support_by_the_vocabulary_weight(corpus: Corpus) -> None:
    corpus.build()
    index = load_index(corpus.index_path)
    text = "Hvor lange er ventetidene på legevakten om natten?"
    base = fake_policy([e.identity for e in index.manifest.encoders])

    def under(weight: float) -> Policy:
        return base.model_copy(
            update={"support": base.support.model_copy(update={"vocabulary_weight": weight})}
        )

    without = Retriever(index, FakeEmbedder(), under(0.0), RetrievalSettings())
    query = QueryParser.of(index, without.embed_question, 2000).parse(text, NO_FILTERS)
    half_known = dataclasses.replace(query, vocabulary_coverage=0.5)
    settings = AnswerSettings()

    def decided(policy: Policy, asked: Query) -> Decision:
        return decide(asked, without.evidence(asked, 2), policy, settings)

    plain, lowered = decided(under(0.0), half_known), decided(under(0.3), half_known)
    assert lowered.support == pytest.approx(plain.support - 0.3 * 0.5)
    for before, after in zip(plain.submitters, lowered.submitters, strict=True):
        assert after.quotes == before.quotes  # what is quoted does not change
    assert query.vocabulary_coverage is not None
    assert decided(under(0.3), query).support == pytest.approx(
        plain.support - 0.3 * (1 - query.vocabulary_coverage)
    )
    searched = dataclasses.replace(query, vocabulary_coverage=None)
    with pytest.raises(ValueError, match="parsed for /search"):
        without.evidence(searched, 2)
