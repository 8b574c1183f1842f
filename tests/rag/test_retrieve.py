"""Retrieval on a small index, checked against NumPy brute force over the stored vectors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from fakes import FakeEmbedder
from numpy.typing import NDArray

from rag.config import ChunkSettings, RetrievalSettings, Settings
from rag.errors import InvalidFilter
from rag.lexical import weighted_overlap
from rag.query import Query, QueryParser
from rag.retrieve import (
    MODES,
    Mode,
    Retriever,
    best_distinct,
    quotable_rows,
    support,
    typicality_penalty,
)
from rag.statements import is_statement
from rag.store import StoredIndex, load_index, stored_vectors
from rag.types import NO_FILTERS, Filters

if TYPE_CHECKING:
    from conftest import Corpus

QUESTIONS = (
    "Hvor lange er ventetidene på legevakten om natten?",
    "Hva sier kommunene om fastlegeordningen?",
    "Trenger distriktene flere tannleger?",
    "Foreslår kommunen faste stillinger for fastleger?",
)
QUERY = QUESTIONS[0]
ALL = {"bergen", "moss", "more"}
FILTERS = [
    (Filters(), ALL),
    (Filters(submitter=("Bergen kommune",)), {"bergen"}),
    (Filters(submitter_type=("kommune",)), {"bergen", "moss"}),
    (Filters(document_id=("moss", "more")), {"moss", "more"}),
]
# Every ranking enabled, so that the reference fuses all three.
ALL_RANKINGS = RetrievalSettings(dense_weight=0.5, sentence_weight=2.0, bm25_weight=1.0)


def make_retriever(corpus: Corpus, settings: RetrievalSettings | None = None) -> Retriever:
    index = load_index(corpus.index_path)
    return Retriever(index, FakeEmbedder(), settings or corpus.settings.retrieval)


@pytest.fixture
def overlapping(corpus: Corpus) -> Corpus:
    """Chunks of 100 characters overlapping by 50: two chunks share Bergen's proposal."""
    corpus.settings = Settings(
        index=corpus.settings.index,
        chunk=ChunkSettings(size=100, overlap=50),
        retrieval=corpus.settings.retrieval,
    )
    corpus.build()
    return corpus


@pytest.fixture
def retriever(overlapping: Corpus) -> Retriever:
    return make_retriever(overlapping)


def parse(retriever: Retriever, text: str, filters: Filters = NO_FILTERS) -> Query:
    return QueryParser.of(retriever.index, retriever.embed_queries, 2000).parse(text, filters)


# --- the brute-force reference -------------------------------------------------------------


def best_first(scores: NDArray[np.floating] | dict[int, float], rows: list[int]) -> list[int]:
    """Rows by score, best first, ties by row: the order every ranking here promises."""
    return sorted(rows, key=lambda r: (-scores[r], r))


class Reference:
    """Every score recomputed from the stored vectors with plain loops."""

    def __init__(self, retriever: Retriever, text: str) -> None:
        index = retriever.index
        self.settings = retriever.settings
        vector = FakeEmbedder().embed_queries([text])[0]
        self.chunk_cosine = stored_vectors(index) @ vector
        self.sentence_cosine = index.sentences.vectors @ vector
        n = len(index.chunks)
        self.best = np.full(n, -1.0, dtype=np.float32)
        self.best_sentence = [-1] * n
        for i, sentence in enumerate(index.sentences.sentences):
            for row in sentence.chunk_rows:
                if self.best_sentence[row] == -1 or self.sentence_cosine[i] > self.best[row]:
                    self.best[row], self.best_sentence[row] = self.sentence_cosine[i], i
        self.mixed = self.best + np.float32(self.settings.chunk_mix) * self.chunk_cosine
        self.bm25 = index.bm25.scores(parse(retriever, text).stems)

    def ranking(self, mode: Mode, rows: list[int]) -> list[int]:
        if mode == "dense":
            return best_first(self.chunk_cosine, rows)
        if mode == "sentence":
            return best_first(self.mixed, rows)
        return [r for r in best_first(self.bm25, rows) if self.bm25[r] > 0]

    def fused(self, rows: list[int]) -> dict[int, float]:
        weights: dict[Mode, float] = {
            "sentence": self.settings.sentence_weight,
            "dense": self.settings.dense_weight,
            "bm25": self.settings.bm25_weight,
        }
        fused: dict[int, float] = {}
        for mode, weight in weights.items():
            if weight <= 0:
                continue
            for rank, row in enumerate(self.ranking(mode, rows), start=1):
                fused[row] = fused.get(row, 0.0) + weight / (self.settings.rrf_k + rank)
        return fused

    def search(self, mode: Mode, rows: list[int], k: int) -> list[tuple[int, float]]:
        if mode == "hybrid":
            fused = self.fused(rows)
            order = best_first(fused, list(fused))
            scores: dict[int, float] = fused
        else:
            order = self.ranking(mode, rows)
            source = {"dense": self.chunk_cosine, "sentence": self.mixed, "bm25": self.bm25}[mode]
            scores = {r: float(source[r]) for r in order}
        shown: set[int] = set()
        found = []
        for row in order:
            sentence = self.best_sentence[row]
            if sentence >= 0 and sentence in shown:
                continue  # the same passage as a chunk above
            shown.add(sentence)
            found.append((row, scores[row]))
        return found[:k]


def rows_of(retriever: Retriever, document_ids: set[str]) -> list[int]:
    return [i for i, c in enumerate(retriever.index.chunks) if c.document_id in document_ids]


def row_of(retriever: Retriever, chunk_id: str) -> int:
    return [c.chunk_id for c in retriever.index.chunks].index(chunk_id)


# --- search --------------------------------------------------------------------------------


def test_overlapping_chunks_that_share_their_best_sentence_are_one_passage(
    retriever: Retriever,
) -> None:
    """The search tests below see chunks whose best sentence is the same (the overlap)."""
    text = QUESTIONS[-1]
    reference = Reference(retriever, text)
    index = retriever.index
    proposal = [
        i
        for i, x in enumerate(index.sentences.sentences)
        if index.documents[x.document_id].text[x.start : x.end].startswith("Kommunen foreslår")
    ]
    assert len(proposal) == 1
    shared = proposal[0]
    assert reference.best_sentence.count(shared) == 2
    every_row = list(range(len(retriever.index.chunks)))
    for mode in MODES:
        rows = [
            row_of(retriever, h.chunk.chunk_id)
            for h in retriever.search(parse(retriever, text), 50, mode)
        ]
        assert len([r for r in rows if reference.best_sentence[r] == shared]) == 1
        assert [r for r, _ in reference.search(mode, every_row, 50)] == rows
    ranked = reference.ranking("sentence", every_row)
    assert [reference.best_sentence[r] for r in ranked].count(shared) == 2  # one was dropped


@pytest.mark.parametrize("settings", [None, ALL_RANKINGS], ids=["default", "all-rankings"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", [1, 3, 50])
@pytest.mark.parametrize(("filters", "allowed"), FILTERS)
def test_search_ranks_like_the_reference(
    overlapping: Corpus,
    settings: RetrievalSettings | None,
    mode: Mode,
    k: int,
    filters: Filters,
    allowed: set[str],
) -> None:
    retriever = make_retriever(overlapping, settings)
    for text in QUESTIONS:
        hits = retriever.search(parse(retriever, text, filters), k, mode)
        reference = Reference(retriever, text)
        expected = reference.search(mode, rows_of(retriever, allowed), k)
        rows = [row_of(retriever, h.chunk.chunk_id) for h in hits]
        assert rows == [r for r, _ in expected]
        assert [h.score for h in hits] == pytest.approx([s for _, s in expected], rel=1e-5)
        assert {h.chunk.document_id for h in hits} <= allowed
        sentence_rank = {
            r: i
            for i, r in enumerate(reference.ranking("sentence", rows_of(retriever, allowed)), 1)
        }
        bm25_rank = {
            r: i for i, r in enumerate(reference.ranking("bm25", rows_of(retriever, allowed)), 1)
        }
        for row, hit in zip(rows, hits, strict=True):
            assert hit.similarity == pytest.approx(float(reference.best[row]))
            assert hit.dense_rank == sentence_rank[row]
            assert hit.bm25_rank == bm25_rank.get(row)


def test_search_finds_the_passage_that_says_it(retriever: Retriever) -> None:
    hits = retriever.search(parse(retriever, QUERY), 1)
    assert "Legevakten i Bergen har lange ventetider om natten." in hits[0].chunk.text


def test_search_rejects_an_unknown_mode(retriever: Retriever) -> None:
    with pytest.raises(ValueError, match="hybrid"):
        retriever.search(parse(retriever, QUERY), 3, mode="sparse")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            Filters(submitter=("Oslo kommune",)),
            "unknown submitter 'Oslo kommune'; valid values: "
            "Bergen kommune, Moss kommune, Møre og Romsdal fylkeskommune",
        ),
        (
            Filters(submitter_type=("stat",)),
            "unknown submitter_type 'stat'; valid values: fylkeskommune, kommune",
        ),
        (
            Filters(document_id=("moss", "oslo")),
            "unknown document_id 'oslo'; valid values: bergen, more, moss",
        ),
    ],
)
def test_unknown_filter_values_name_the_valid_ones(
    retriever: Retriever, filters: Filters, message: str
) -> None:
    with pytest.raises(InvalidFilter) as caught:
        retriever.check_filters(filters)
    assert str(caught.value) == message


@pytest.mark.parametrize(("filters", "allowed"), FILTERS)
def test_allowed_rows_and_admitted_follow_the_filters(
    retriever: Retriever, filters: Filters, allowed: set[str]
) -> None:
    retriever.check_filters(filters)
    assert retriever.allowed_rows(filters).tolist() == rows_of(retriever, allowed)
    assert retriever.admitted(filters) == [d for d in retriever.index.documents if d in allowed]


# --- evidence: the sentences /ask quotes from ----------------------------------------------


def in_context(index: StoredIndex, text: str, mix: float) -> NDArray[np.float64]:
    """Each sentence's cosine averaged, with weight `mix`, with its closest chunk's, one by one."""
    vector = FakeEmbedder().embed_queries([text])[0]
    chunks = stored_vectors(index) @ vector
    return np.array(
        [
            (float(v @ vector) + mix * max(float(chunks[r]) for r in s.chunk_rows)) / (1 + mix)
            for v, s in zip(index.sentences.vectors, index.sentences.sentences, strict=True)
        ]
    )


@pytest.mark.parametrize("context_mix", [0.0, 1.0])
@pytest.mark.parametrize("per_document", [1, 2, 3, 10])
@pytest.mark.parametrize(("filters", "allowed"), FILTERS)
def test_evidence_against_brute_force(
    overlapping: Corpus, per_document: int, filters: Filters, allowed: set[str], context_mix: float
) -> None:
    retriever = make_retriever(overlapping, RetrievalSettings(context_mix=context_mix))
    index = retriever.index
    for text in QUESTIONS:
        query = parse(retriever, text, filters)
        evidence = retriever.evidence(query, per_document)
        cosines = in_context(index, text, context_mix)
        expected: dict[str, list[tuple[int, float, float]]] = {}
        for i, s in enumerate(index.sentences.sentences):
            doc = index.documents[s.document_id]
            if s.document_id in allowed and is_statement(doc, s):
                quote = doc.text[s.start : s.end]
                bonus = weighted_overlap(query.terms, query.weights, quote)
                score = float(cosines[i]) + retriever.settings.lexical_tiebreak * bonus
                expected.setdefault(s.document_id, []).append((s.start, float(cosines[i]), score))
        assert [d.document.document_id for d in evidence.documents] == sorted(
            allowed, key=lambda d: (-max(e[2] for e in expected[d]), list(index.documents).index(d))
        )
        for found in evidence.documents:
            best = sorted(expected[found.document.document_id], key=lambda e: (-e[2], e[0]))
            assert [s.sentence.start for s in found.sentences] == [e[0] for e in best][
                :per_document
            ]
            assert [s.similarity for s in found.sentences] == pytest.approx(
                [e[1] for e in best][:per_document]
            )
            assert [s.score for s in found.sentences] == pytest.approx(
                [e[2] for e in best][:per_document]
            )
            assert found.best == pytest.approx(best[0][2])
        closest = max(e[2] for v in expected.values() for e in v)
        assert evidence.documents[0].best == pytest.approx(closest)


def brute_support(values: list[tuple[str, float]], n: int) -> float:
    """Mean of the n best values, the best of each wording only; -1 if there are none."""
    best: dict[str, float] = {}
    for wording, value in values:
        best[wording] = max(value, best.get(wording, -np.inf))
    top = sorted(best.values(), reverse=True)[:n]
    return float(np.mean(top)) if top else -1.0


@pytest.mark.parametrize(("weight", "n"), [(0.0, 1), (0.5, 1), (0.5, 3), (1.0, 20)])
@pytest.mark.parametrize(("filters", "allowed"), FILTERS)
def test_support_against_brute_force(
    overlapping: Corpus, weight: float, n: int, filters: Filters, allowed: set[str]
) -> None:
    settings = RetrievalSettings(typicality_weight=weight, support_sentences=n)
    retriever = make_retriever(overlapping, settings)
    index = retriever.index
    quotable = [
        i
        for i, s in enumerate(index.sentences.sentences)
        if is_statement(index.documents[s.document_id], s)
    ]
    centre = float(np.median(index.sentences.typicality[quotable]))
    for text in QUESTIONS:
        query = parse(retriever, text, filters)
        evidence = retriever.evidence(query, 2)
        vector = FakeEmbedder().embed_queries([text])[0]
        values: dict[str, list[tuple[str, float]]] = {}
        for i in quotable:
            s = index.sentences.sentences[i]
            if s.document_id in allowed:
                wording = " ".join(index.documents[s.document_id].text[s.start : s.end].split())
                own = float(index.sentences.vectors[i] @ vector)
                value = own - weight * (float(index.sentences.typicality[i]) - centre)
                values.setdefault(s.document_id, []).append((wording, value))
        everything = [v for document in values.values() for v in document]
        assert evidence.support == pytest.approx(brute_support(everything, n), abs=1e-5)
        for found in evidence.documents:
            expected = brute_support(values[found.document.document_id], n)
            assert found.support == pytest.approx(expected, abs=1e-5)


def test_support_counts_a_wording_once_and_averages_the_best() -> None:
    scores = np.array([0.9, 0.9, 0.5, 0.7, 0.1], dtype=np.float32)
    wordings = np.array([0, 0, 1, 2, 3], dtype=np.int64)  # rows 0 and 1: one template sentence
    every = np.arange(5, dtype=np.int64)

    def of(rows: NDArray[np.int64], n: int) -> float:
        return support(scores, best_distinct(scores, wordings, rows, n))

    assert best_distinct(scores, wordings, every, 3).tolist() == [0, 3, 2]
    assert of(every, 1) == pytest.approx(0.9)
    assert of(every, 2) == pytest.approx((0.9 + 0.7) / 2)
    assert of(every, 3) == pytest.approx((0.9 + 0.7 + 0.5) / 3)
    assert of(every, 10) == pytest.approx((0.9 + 0.7 + 0.5 + 0.1) / 4)
    assert of(np.array([4, 2], dtype=np.int64), 1) == pytest.approx(0.5)
    assert of(np.empty(0, dtype=np.int64), 3) == -1.0
    best = best_distinct(scores, wordings, every, 2)
    assert support(scores, best, 0.1) == pytest.approx((0.9 + 0.7) / 2 - 0.1)
    assert support(scores, np.empty(0, dtype=np.int64), 0.1) == -1.0  # still: nothing to quote


def test_a_typical_sentence_supports_less_than_a_specific_one_as_close(
    overlapping: Corpus,
) -> None:
    """Two sentences equally close to a question: the more typical one gives less support."""
    retriever = make_retriever(overlapping, RetrievalSettings(typicality_weight=0.5))
    typical = retriever.index.sentences.typicality
    quotable = quotable_rows(retriever.index)
    penalty = typicality_penalty(retriever.index, quotable, 0.5)
    most, least = int(np.argmax(typical)), int(np.argmin(typical))
    assert penalty[most] > penalty[least]
    assert penalty[most] - penalty[least] == pytest.approx(0.5 * (typical[most] - typical[least]))
    assert typicality_penalty(retriever.index, quotable, 0.0).tolist() == [0.0] * len(typical)


def test_evidence_quotes_statements_only(retriever: Retriever) -> None:
    query = parse(retriever, "Fastlegeordningen Legevakt Tannhelse Samhandling")
    evidence = retriever.evidence(query, 50)
    quoted = {
        d.document.text[s.sentence.start : s.sentence.end]
        for d in evidence.documents
        for s in d.sentences
    }
    headings = {s.title for d in retriever.index.documents.values() for s in d.sections}
    assert quoted and not quoted & headings
    assert not any(q.startswith("Innspill fra") for q in quoted)
    assert "Fastlegeordningen bør finansieres bedre av staten." in quoted


# --- the question's vector -----------------------------------------------------------------


def test_a_repeated_query_is_embedded_once(corpus: Corpus) -> None:
    corpus.build()
    embedder = FakeEmbedder()
    retriever = Retriever(load_index(corpus.index_path), embedder, corpus.settings.retrieval)
    (first,) = retriever.embed_queries([QUERY])
    (again,) = retriever.embed_queries([QUERY])
    query = parse(retriever, QUERY)
    retriever.search(query, 3)
    retriever.evidence(query, 3)
    assert embedder.calls == [[QUERY]]
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(query.vector, first)
    np.testing.assert_allclose(first, FakeEmbedder().embed_queries([QUERY])[0])
    parse(retriever, "Hva med tannhelse?")
    assert embedder.calls == [[QUERY], ["Hva med tannhelse?"]]


def test_a_question_naming_a_submitter_picks_sentences_by_its_topic(corpus: Corpus) -> None:
    # sentences are embedded without their submitter, so the name would only add noise
    corpus.build()
    embedder = FakeEmbedder()
    retriever = Retriever(load_index(corpus.index_path), embedder, corpus.settings.retrieval)
    question, topic = (
        "Hva sier Bergen om sykepleiere i helgene?",
        "Hva sier om sykepleiere i helgene?",
    )
    query = parse(retriever, question)
    assert embedder.calls == [[question, topic]]  # one call for both
    assert query.named_documents == {"bergen"}
    np.testing.assert_allclose(query.topic_vector, FakeEmbedder().embed_queries([topic])[0])
    cosines = retriever.index.sentences.vectors @ query.topic_vector
    rows = {s: i for i, s in enumerate(retriever.index.sentences.sentences)}
    evidence = retriever.evidence(query, 3)
    similarities = [
        (s.similarity, float(cosines[rows[s.sentence]])) for s in evidence.documents[0].sentences
    ]
    assert similarities and all(a == pytest.approx(b) for a, b in similarities)
    assert not np.allclose(query.vector, query.topic_vector)
