"""Retrieval on a small index, checked against NumPy brute force over the stored vectors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from fakes import FakeEmbedder, fake_policy
from numpy.typing import NDArray

from rag.config import AnswerSettings, ChunkSettings, Settings
from rag.decide import Decision, decide
from rag.errors import InvalidFilter
from rag.lexical import weighted_overlap
from rag.policy import Fusion, Policy, Support
from rag.query import Query, QueryParser
from rag.retrieve import MODES, Mode, Retriever, per_encoder, stored_per_encoder
from rag.scoring import best_distinct, distinctiveness, support
from rag.statements import is_statement
from rag.store import StoredIndex, load_index, stored_vectors
from rag.types import NO_FILTERS, Filters
from rag.vector_index import build, choose_spec

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
ALL_RANKINGS = Fusion(dense_weight=0.5, sentence_weight=2.0, bm25_weight=1.0, chunk_mix=1.0)


def policy_of(index: StoredIndex, **changes: object) -> Policy:
    """The fake embedder's policy for `index`, with `changes`."""
    policy = fake_policy([e.identity for e in index.manifest.encoders])
    return policy.model_copy(update=changes)


def make_retriever(corpus: Corpus, **changes: object) -> Retriever:
    index = load_index(corpus.index_path)
    return Retriever(index, FakeEmbedder(), policy_of(index, **changes), corpus.settings.retrieval)


@pytest.fixture
def overlapping(corpus: Corpus) -> Corpus:
    """Chunks of 100 characters overlapping by 50: two chunks share Bergen's proposal."""
    corpus.settings = Settings(
        index=corpus.settings.index, chunk=ChunkSettings(size=100, overlap=50)
    )
    corpus.build()
    return corpus


@pytest.fixture
def retriever(overlapping: Corpus) -> Retriever:
    return make_retriever(overlapping)


def parse(retriever: Retriever, text: str, filters: Filters = NO_FILTERS) -> Query:
    return QueryParser.of(retriever.index, retriever.embed_question, 2000).parse(text, filters)


# --- the brute-force reference -------------------------------------------------------------


def best_first(scores: NDArray[np.floating] | dict[int, float], rows: list[int]) -> list[int]:
    """Rows by score, best first, ties by row: the order every ranking here promises."""
    return sorted(rows, key=lambda r: (-scores[r], r))


class Reference:
    """Every score recomputed from the stored vectors with plain loops."""

    def __init__(self, retriever: Retriever, text: str) -> None:
        index = retriever.index
        self.fusion = retriever.policy.fusion
        self.rrf_k = retriever.settings.rrf_k
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
        self.mixed = self.best + np.float32(self.fusion.chunk_mix) * self.chunk_cosine
        self.bm25 = index.bm25.scores(parse(retriever, text).stems)

    def ranking(self, mode: Mode, rows: list[int]) -> list[int]:
        if mode == "dense":
            return best_first(self.chunk_cosine, rows)
        if mode == "sentence":
            return best_first(self.mixed, rows)
        return [r for r in best_first(self.bm25, rows) if self.bm25[r] > 0]

    def fused(self, rows: list[int]) -> dict[int, float]:
        weights: dict[Mode, float] = {
            "sentence": self.fusion.sentence_weight,
            "dense": self.fusion.dense_weight,
            "bm25": self.fusion.bm25_weight,
        }
        fused: dict[int, float] = {}
        for mode, weight in weights.items():
            if weight <= 0:
                continue
            for rank, row in enumerate(self.ranking(mode, rows), start=1):
                fused[row] = fused.get(row, 0.0) + weight / (self.rrf_k + rank)
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


@pytest.mark.parametrize("fusion", [None, ALL_RANKINGS], ids=["default", "all-rankings"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", [1, 3, 50])
@pytest.mark.parametrize(("filters", "allowed"), FILTERS)
def test_search_ranks_like_the_reference(
    overlapping: Corpus,
    fusion: Fusion | None,
    mode: Mode,
    k: int,
    filters: Filters,
    allowed: set[str],
) -> None:
    retriever = make_retriever(overlapping, **({"fusion": fusion} if fusion else {}))
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


# --- evidence: the sentences /ask decides on ---------------------------------------------


def brute_features(
    index: StoredIndex, text: str
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Each sentence's own cosine, its closest chunk's cosine and its typicality less the median
    of the quotable sentences', one by one (one encoder)."""
    vector = FakeEmbedder().embed_queries([text])[0]
    chunks = stored_vectors(index) @ vector
    sentences = index.sentences.sentences
    own = np.array([float(v @ vector) for v in index.sentences.vectors])
    closest = np.array(
        [
            max((float(chunks[r]) for r in s.chunk_rows), default=own[i])
            for i, s in enumerate(sentences)
        ]
    )
    typical = index.sentences.typicality[:, 0].astype(np.float64)
    quotable = [
        i for i, s in enumerate(sentences) if is_statement(index.documents[s.document_id], s)
    ]
    return own, closest, typical - float(np.median(typical[quotable]))


@pytest.mark.parametrize(("filters", "allowed"), FILTERS)
def test_evidence_holds_every_quotable_sentence_with_its_features(
    overlapping: Corpus, filters: Filters, allowed: set[str]
) -> None:
    retriever = make_retriever(overlapping)
    index = retriever.index
    for text in QUESTIONS:
        query = parse(retriever, text, filters)
        evidence = retriever.evidence(query, None)
        own, closest, typical = brute_features(index, text)
        assert [d.document.document_id for d in evidence.documents] == [
            d for d in index.documents if d in allowed
        ]
        for found in evidence.documents:
            doc = found.document
            rows = [
                i
                for i, s in enumerate(index.sentences.sentences)
                if s.document_id == doc.document_id and is_statement(doc, s)
            ]
            c = found.candidates
            assert c.rows.tolist() == rows
            assert c.own[:, 0] == pytest.approx(own[rows], abs=1e-6)
            assert c.chunk[:, 0] == pytest.approx(closest[rows], abs=1e-6)
            assert c.typical[:, 0] == pytest.approx(typical[rows], abs=1e-6)
            quotes = [
                doc.text[index.sentences.sentences[r].start : index.sentences.sentences[r].end]
                for r in rows
            ]
            bonus = [weighted_overlap(query.terms, query.weights, q) for q in quotes]
            assert c.overlap == pytest.approx(bonus, abs=1e-6)
            same = [[a == b for b in quotes] for a in quotes]
            assert [[x == y for y in c.wording] for x in c.wording] == same


def decisions(retriever: Retriever, query: Query, depth: int) -> tuple[Decision, Decision]:
    """The decision on the narrowed evidence, as served, and on every quotable sentence."""
    settings = AnswerSettings()
    policy = retriever.policy
    served = decide(query, retriever.evidence(query, depth), policy, settings, depth)
    full = decide(query, retriever.evidence(query, None), policy, settings, depth)
    return served, full


@pytest.mark.parametrize("context_mix", [0.0, 1.0])
@pytest.mark.parametrize("support_setting", [(0.0, 1), (0.5, 3), (1.0, 20)])
@pytest.mark.parametrize("per_document", [1, 3, 10])
@pytest.mark.parametrize(("filters", "allowed"), FILTERS)
def test_narrowed_evidence_decides_as_every_sentence_would(
    overlapping: Corpus,
    per_document: int,
    filters: Filters,
    allowed: set[str],
    context_mix: float,
    support_setting: tuple[float, int],
) -> None:
    weight, n = support_setting
    setting = Support(typicality_weight=weight, support_sentences=n, vocabulary_weight=0.0)
    retriever = make_retriever(overlapping, context_mix=context_mix, support=setting)
    for text in QUESTIONS:
        served, full = decisions(retriever, parse(retriever, text, filters), per_document)
        assert served == full


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
    setting = Support(typicality_weight=weight, support_sentences=n, vocabulary_weight=0.0)
    retriever = make_retriever(overlapping, support=setting)
    index = retriever.index
    for text in QUESTIONS:
        query = parse(retriever, text, filters)
        decision = decide(query, retriever.evidence(query, 2), retriever.policy, AnswerSettings())
        own, _, typical = brute_features(index, text)
        values: list[tuple[str, float]] = []
        for i, s in enumerate(index.sentences.sentences):
            doc = index.documents[s.document_id]
            if s.document_id in allowed and is_statement(doc, s):
                wording = " ".join(doc.text[s.start : s.end].split())
                values.append((wording, own[i] - weight * typical[i]))
        assert decision.support == pytest.approx(brute_support(values, n), abs=1e-5)


def test_support_counts_a_wording_once_and_averages_the_best() -> None:
    scores = np.array([0.9, 0.9, 0.5, 0.7, 0.1], dtype=np.float32)
    wordings = np.array([0, 0, 1, 2, 3], dtype=np.int64)  # rows 0 and 1: one template sentence

    def of(n: int, vocabulary_weight: float = 0.0, coverage: float = 1.0) -> float:
        setting = Support(support_sentences=n, vocabulary_weight=vocabulary_weight)
        policy = fake_policy(["x"]).model_copy(update={"support": setting})
        return support(scores, wordings, policy, coverage)

    assert best_distinct(scores, wordings, 3).tolist() == [0, 3, 2]
    assert of(1) == pytest.approx(0.9)
    assert of(2) == pytest.approx((0.9 + 0.7) / 2)
    assert of(3) == pytest.approx((0.9 + 0.7 + 0.5) / 3)
    assert of(10) == pytest.approx((0.9 + 0.7 + 0.5 + 0.1) / 4)
    assert of(2, vocabulary_weight=0.2, coverage=0.5) == pytest.approx((0.9 + 0.7) / 2 - 0.1)
    empty = np.empty(0, dtype=np.float32)
    policy = fake_policy(["x"])
    assert support(empty, np.empty(0, dtype=np.int64), policy, 0.5) == -1.0  # nothing to quote


def test_a_typical_sentence_supports_less_than_a_specific_one_as_close(
    overlapping: Corpus,
) -> None:
    """Two sentences equally close to a question: the more typical one gives less support."""
    setting = Support(typicality_weight=0.5, support_sentences=1, vocabulary_weight=0.0)
    retriever = make_retriever(overlapping, support=setting)
    index = retriever.index
    query = parse(retriever, QUERY)
    found = retriever.evidence(query, None)
    pooled = {
        int(r): float(t)
        for d in found.documents
        for r, t in zip(d.candidates.rows, d.candidates.typical[:, 0], strict=True)
    }
    most, least = max(pooled, key=pooled.get), min(pooled, key=pooled.get)  # type: ignore[arg-type]
    assert pooled[most] > pooled[least]
    raw = index.sentences.typicality[:, 0]
    assert pooled[most] - pooled[least] == pytest.approx(float(raw[most] - raw[least]), abs=1e-6)
    # the same own cosine, more typical: less distinct by half the difference in typicality
    own = np.array([[0.8], [0.8]], dtype=np.float32)
    typical = np.array([[pooled[most]], [pooled[least]]], dtype=np.float32)
    values = distinctiveness(own, typical, np.ones(1, dtype=np.float32), 0.5)
    assert values[1] - values[0] == pytest.approx(0.5 * (pooled[most] - pooled[least]), abs=1e-6)


def test_evidence_quotes_statements_only(retriever: Retriever) -> None:
    query = parse(retriever, "Fastlegeordningen Legevakt Tannhelse Samhandling")
    evidence = retriever.evidence(query, 50)
    quoted = {
        d.document.text[evidence.sentences[r].start : evidence.sentences[r].end]
        for d in evidence.documents
        for r in d.candidates.rows.tolist()
    }
    headings = {s.title for d in retriever.index.documents.values() for s in d.sections}
    assert quoted and not quoted & headings
    assert not any(q.startswith("Innspill fra") for q in quoted)
    assert "Fastlegeordningen bør finansieres bedre av staten." in quoted


# --- the question's vector -----------------------------------------------------------------


def test_a_repeated_query_is_embedded_once(corpus: Corpus) -> None:
    corpus.build()
    embedder = FakeEmbedder()
    index = load_index(corpus.index_path)
    retriever = Retriever(index, embedder, policy_of(index), corpus.settings.retrieval)
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
    index = load_index(corpus.index_path)
    retriever = Retriever(index, embedder, policy_of(index), corpus.settings.retrieval)
    question, topic = (
        "Hva sier Bergen om sykepleiere i helgene?",
        "Hva sier om sykepleiere i helgene?",
    )
    query = parse(retriever, question)
    assert embedder.calls == [[question, topic]]  # one call for both
    assert query.named_documents == {"bergen"}
    np.testing.assert_allclose(query.topic_vector, FakeEmbedder().embed_queries([topic])[0])
    cosines = retriever.index.sentences.vectors @ query.topic_vector
    found = retriever.evidence(query, 3).documents[0].candidates
    assert len(found) and found.own[:, 0] == pytest.approx(cosines[found.rows], abs=1e-6)
    assert not np.allclose(query.vector, query.topic_vector)


@pytest.mark.parametrize(("filters", "allowed"), FILTERS)
def test_the_candidate_path_of_a_large_index_ranks_and_decides_as_every_row(
    overlapping: Corpus, filters: Filters, allowed: set[str]
) -> None:
    """A small index scored through the vector indexes' candidates (as a large one is) gives
    what scoring every row gives: here the candidates are every row they can hold."""
    exhaustive = make_retriever(overlapping)
    through_candidates = make_retriever(overlapping)
    assert exhaustive.exhaustive
    through_candidates.exhaustive = False
    settings, policy = AnswerSettings(), exhaustive.policy
    for text in QUESTIONS:
        query = parse(exhaustive, text, filters)
        for mode in MODES:
            assert through_candidates.search(query, 50, mode) == exhaustive.search(query, 50, mode)
        served = through_candidates.evidence(query, 3)
        assert {d.document.document_id for d in served.documents} <= allowed
        assert decide(query, served, policy, settings, 3) == decide(
            query, exhaustive.evidence(query, 3), policy, settings, 3
        )


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_stored_rows_are_scored_a_block_at_a_time_to_the_same_values(kind: str) -> None:
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(3_000, 24)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = build(vectors, choose_spec(len(vectors), 24, kind, flat_below=100))
    rows = np.sort(rng.choice(len(vectors), size=2_500, replace=False)).astype(np.int64)
    query, blocks = vectors[7], [slice(0, 8), slice(8, 24)]
    at_once = per_encoder(index.vectors(rows), query, blocks)
    assert np.array_equal(stored_per_encoder(index, rows, query, blocks), at_once)
    assert stored_per_encoder(index, rows[:0], query, blocks).shape == (0, 2)
