"""The service: parsing once, answers and per-submitter decisions, and the index holder."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import fakes
import pytest
from fakes import FakeEmbedder
from threadpoolctl import threadpool_info, threadpool_limits

from rag.answer import LOW_CONFIDENCE_TEXT, NO_ANSWER_TEXT, literal
from rag.config import AnswerSettings, Settings
from rag.contract import MARKER
from rag.embed import Embedder
from rag.errors import IndexCorrupt, IndexNotFound, InvalidFilter, InvalidQuestion
from rag.policy import policy_path
from rag.service import IndexHolder, Service
from rag.store import CHUNKS, SENTENCES, read_manifest
from rag.types import Filters

if TYPE_CHECKING:
    from conftest import Corpus

NEW_SENTENCE = "Ambulansetjenesten i Bergen trenger flere biler."
SHORT = AnswerSettings(max_question_chars=40)
ANSWERED_LOW = "Hva med legevakten om natten?"
ANSWERED_HIGH = "Hvem trenger flere tannleger?"
UNANSWERED = "Xyzzy qwerty plugh?"
KOMMUNER = Filters(submitter_type=("kommune",))


@pytest.fixture
def service(corpus: Corpus) -> Service:
    corpus.build()
    settings = Settings(
        index=corpus.settings.index,
        chunk=corpus.settings.chunk,
        answer=SHORT,
    )
    return Service.load(settings, FakeEmbedder())


def test_a_loaded_service_keeps_numpy_blas_on_one_thread(corpus: Corpus) -> None:
    # BLAS threads spin after each product and take the cores the question embedding needs
    corpus.build()
    with threadpool_limits(limits=2, user_api="blas"):
        Service.load(corpus.settings, FakeEmbedder())
        pools = threadpool_info()
        numpys = [p for p in pools if p["user_api"] == "blas" and "numpy" in p["filepath"]]
        assert numpys, pools
        assert all(pool["num_threads"] == 1 for pool in numpys), pools


@pytest.mark.parametrize(
    ("question", "error"),
    [
        ("", "tomt"),
        (" \n\t ", "tomt"),
        ("x" * 41, "for langt (41 tegn; maks 40)"),
        (" " * 41, "tomt"),
        ("Hva med legevakt\ud800?", "gyldig Unicode"),
    ],
)
def test_unusable_questions_are_rejected(service: Service, question: str, error: str) -> None:
    with pytest.raises(InvalidQuestion, match=re.escape(error)):
        service.parse(question)
    with pytest.raises(InvalidQuestion, match=re.escape(error)):
        service.search(question)
    with pytest.raises(InvalidQuestion, match=re.escape(error)):
        service.ask(question)
    with pytest.raises(InvalidQuestion, match=re.escape(error)):
        service.submitter_decisions(question)


def test_a_usable_question_is_stripped(service: Service) -> None:
    assert service.parse("  Hva med legevakt?\n").text == "Hva med legevakt?"
    assert service.parse("x" * 40).text == "x" * 40
    assert service.ask("  Hva med legevakt?\n").question == "Hva med legevakt?"


@pytest.mark.parametrize(
    "hidden", ["tann\u200bleger", "\u202etannleger", "t\u00adannleger", "tann\x1b\x00leger"]
)
def test_hidden_characters_in_a_question_change_nothing(service: Service, hidden: str) -> None:
    plain = service.ask(ANSWERED_HIGH)
    hostile = service.ask(ANSWERED_HIGH.replace("tannleger", hidden))
    assert hostile.question == plain.question == ANSWERED_HIGH  # nothing hidden is echoed
    assert (hostile.answer, hostile.citations) == (plain.answer, plain.citations)
    assert plain.citations


def test_unknown_filters_are_rejected_before_anything_else(service: Service) -> None:
    unknown = Filters(submitter=("Oslo kommune",))
    calls: list[Callable[[], object]] = [
        lambda: service.parse(ANSWERED_LOW, unknown),
        lambda: service.search(ANSWERED_LOW, filters=unknown),
        lambda: service.ask(ANSWERED_LOW, filters=unknown),
        lambda: service.submitter_decisions(ANSWERED_LOW, unknown),
        lambda: service.parse("", unknown),  # the filter is named even for an empty question
    ]
    for call in calls:
        with pytest.raises(InvalidFilter, match="unknown submitter 'Oslo kommune'"):
            call()


def test_a_question_is_parsed_and_embedded_once_per_request(corpus: Corpus) -> None:
    corpus.build()
    embedder = FakeEmbedder()
    settings = Settings(
        index=corpus.settings.index,
        chunk=corpus.settings.chunk,
        answer=SHORT,
    )
    service = Service.load(settings, embedder)
    service.ask(ANSWERED_HIGH)
    assert embedder.calls == [[ANSWERED_HIGH]]
    query = service.parse(ANSWERED_HIGH, KOMMUNER)
    assert query.filters == KOMMUNER and query.corpus_wide  # «Hvem» asks about everyone
    assert embedder.calls == [[ANSWERED_HIGH]]  # the vector is cached


@pytest.mark.parametrize(
    ("question", "confidence"),
    [(ANSWERED_HIGH, "high"), (ANSWERED_LOW, "low"), (UNANSWERED, "none")],
)
def test_ask_reports_confidence_and_no_answer_consistently(
    service: Service, question: str, confidence: str
) -> None:
    answer = service.ask(question)
    assert answer.confidence == confidence
    assert answer.no_answer is (confidence == "none")
    assert bool(answer.citations) is not answer.no_answer
    assert {"embed", "retrieve", "answer", "total"} <= answer.timings_ms.keys()
    if answer.no_answer:
        assert answer.answer == NO_ANSWER_TEXT
        return
    assert answer.answer.startswith(LOW_CONFIDENCE_TEXT) is (confidence == "low")
    assert [int(n) for n in MARKER.findall(answer.answer)] == [c.n for c in answer.citations]
    for c in answer.citations:
        assert c.quote == service.index.documents[c.document_id].text[c.start : c.end]
        assert f"«{literal(c.quote)}» [{c.n}]" in answer.answer


def test_ask_answers_from_the_documents_the_filters_admit(service: Service) -> None:
    answer = service.ask(ANSWERED_HIGH, filters=KOMMUNER)
    assert answer.citations
    assert {c.document_id for c in answer.citations} <= {"bergen", "moss"}
    assert " av 2 innspill**" in answer.answer
    everyone = service.ask(ANSWERED_HIGH)
    assert " av 3 innspill**" in everyone.answer
    assert "more" in {c.document_id for c in everyone.citations}


@pytest.mark.parametrize(("filters", "scope"), [(Filters(), 3), (KOMMUNER, 2)])
def test_submitter_decisions_give_one_row_per_document_in_scope(
    service: Service, filters: Filters, scope: int
) -> None:
    for question in (ANSWERED_HIGH, ANSWERED_LOW, UNANSWERED):
        rows = service.submitter_decisions(question, filters)
        ids = [r.document.document_id for r in rows]
        assert sorted(ids) == sorted(
            d for d, doc in service.index.documents.items() if filters.admits(doc)
        )
        assert len(rows) == scope == sum(service.in_scope(filters).values())
        assert [r.score for r in rows] == sorted((r.score for r in rows), reverse=True)
        for r in rows:
            assert (r.confidence == "none") == (not r.quotes)
    unanswered = service.submitter_decisions(UNANSWERED, filters)
    assert all(r.confidence == "none" for r in unanswered)


def test_submitter_decisions_count_every_document_over_the_bar(service: Service) -> None:
    """A topic question counts everyone over submitter_threshold, not only the closest."""
    rows = service.submitter_decisions("Trenger de flere tannleger?")
    decide = service.decide(service.parse("Trenger de flere tannleger?", corpus_wide=False))
    quoted = [r.document.document_id for r in rows if r.quotes]
    assert len(quoted) > len(decide.quoted)
    bar = fakes.FAKE_THRESHOLDS.submitter_threshold
    assert all(r.score >= bar for r in rows if r.quotes)


# --- the index holder ----------------------------------------------------------------------


class CountedLoads:
    """Wraps Service.load to count how often the holder reads an index."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = Service.load

        def load(settings: Settings, embedder: Embedder) -> Service:
            self.count += 1
            return original(settings, embedder)

        monkeypatch.setattr(Service, "load", load)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> CountedLoads:
    return CountedLoads(monkeypatch)


@pytest.fixture
def holder(corpus: Corpus) -> IndexHolder:
    return IndexHolder(corpus.settings, FakeEmbedder)


def chunk_texts(service: Service) -> str:
    return " ".join(c.text for c in service.index.chunks)


def test_without_an_index_get_says_how_to_build_one(holder: IndexHolder, corpus: Corpus) -> None:
    with pytest.raises(IndexNotFound, match="rag index") as caught:
        holder.get()
    assert str(corpus.index_path) in str(caught.value)


def test_the_same_index_is_loaded_once(
    holder: IndexHolder, corpus: Corpus, loads: CountedLoads
) -> None:
    corpus.build()
    first = holder.get()
    assert holder.get() is first and holder.reload() is first
    assert loads.count == 1


def test_a_rebuild_is_served_once_the_link_points_at_it(
    holder: IndexHolder, corpus: Corpus, loads: CountedLoads
) -> None:
    first_build = corpus.build()
    first = holder.get()
    corpus.append("bergen", NEW_SENTENCE)
    second_build = corpus.build()
    assert second_build != first_build
    second = holder.get()
    assert second is not first and loads.count == 2
    assert second.index.path == second_build
    assert NEW_SENTENCE in chunk_texts(second) and NEW_SENTENCE not in chunk_texts(first)
    assert holder.get() is second


def test_a_corrupt_rebuild_keeps_the_previous_index_without_retrying(
    holder: IndexHolder, corpus: Corpus, loads: CountedLoads, caplog: pytest.LogCaptureFixture
) -> None:
    corpus.build()
    first = holder.get()
    corpus.append("bergen", NEW_SENTENCE)
    broken = corpus.build()
    (broken / CHUNKS).unlink()
    assert [holder.get() for _ in range(3)] == [first] * 3
    assert loads.count == 2  # one failed try of the broken build, then no more
    assert "cannot load index" in caplog.text and CHUNKS in caplog.text
    with pytest.raises(IndexCorrupt, match=CHUNKS):
        holder.reload(force=True)  # a requested reload reports its failure ...
    assert holder.get() is first  # ... and the previous index stays in service
    assert loads.count == 3
    corpus.append("bergen", "Legevakten trenger også flere leger.")
    fixed = corpus.build()
    assert holder.get().index.path == fixed and loads.count == 4


@pytest.mark.parametrize("name", [CHUNKS, SENTENCES])
def test_a_corrupt_first_index_is_reported_without_retrying(
    holder: IndexHolder, corpus: Corpus, loads: CountedLoads, name: str
) -> None:
    (corpus.build() / name).unlink()
    for _ in range(2):
        with pytest.raises(IndexCorrupt, match=name):
            holder.get()
    assert loads.count == 1


def test_the_policy_file_decides_without_a_code_edit(corpus: Corpus) -> None:
    """The calibrated values live in the policy file beside the index: a service loaded after
    the file changed answers by the new values, and with no file it runs uncalibrated."""
    corpus.build()
    policy = fakes.fake_policy([e.identity for e in read_manifest(corpus.index_path).encoders])
    assert Service.load(corpus.settings, FakeEmbedder()).ask(ANSWERED_HIGH).confidence == "high"
    strict = policy.thresholds.model_copy(update={"low_confidence": 5.0, "high_confidence": 5.0})
    fakes.write_fake_policy(corpus.index_path, policy.model_copy(update={"thresholds": strict}))
    refusing = Service.load(corpus.settings, FakeEmbedder())
    assert refusing.ask(ANSWERED_HIGH).no_answer
    assert refusing.policy.origin == "this corpus"
    lenient = strict.model_copy(update={"low_confidence": -1.0, "high_confidence": -1.0})
    fakes.write_fake_policy(corpus.index_path, policy.model_copy(update={"thresholds": lenient}))
    assert Service.load(corpus.settings, FakeEmbedder()).ask(UNANSWERED).confidence == "high"
    policy_path(corpus.index_path).unlink()
    uncalibrated = Service.load(corpus.settings, FakeEmbedder())
    assert uncalibrated.policy.origin == "uncalibrated"
    answer = uncalibrated.ask(UNANSWERED)
    assert answer.confidence == "low"  # never refused, always cautious


def test_the_question_naming_a_kind_of_submitter_asks_them_alone(service: Service) -> None:
    question = "Fastlegeordningen under press kommunene"
    scoped = service.ask(question)
    assert scoped.scope == ("kommune",) and scoped.citations
    assert {c.submitter_type for c in scoped.citations} == {"kommune"}
    assert "Spørsmålet gjelder kommuner: bare kommuner er tatt med." in scoped.answer
    assert [(t.submitter_type, t.in_scope) for t in scoped.counts] == [("kommune", 2)]
    everyone = service.ask(question, scoped=False)
    assert everyone.scope == () and "Spørsmålet gjelder" not in everyone.answer
    assert sum(t.in_scope for t in everyone.counts) == 3
    teeth = "Hvem i kommunene trenger tannleger?"  # only the county discusses them
    assert "more" not in {c.document_id for c in service.ask(teeth).citations}
    assert "more" in {c.document_id for c in service.ask(teeth, scoped=False).citations}
    chosen = service.ask(teeth, filters=Filters(submitter_type=("fylkeskommune",)))
    assert chosen.scope == ()  # the filters chose the types; the question's words do not
    assert {c.submitter_type for c in chosen.citations} == {"fylkeskommune"}
    search = service.search(teeth, k=10)  # /search ranks every submitter's passages
    assert "more" in {h.chunk.document_id for h in search}
