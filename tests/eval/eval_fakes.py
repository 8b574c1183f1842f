"""A tiny fake backend and question set for the runner and report tests (no model, no index)."""

from __future__ import annotations

from dataclasses import dataclass, field

from eval.backends import Cited, Reply, StoredDocument
from eval.metrics import Passage
from eval.questions import GoldQuote, Question
from rag.retrieve import MODES, Mode

MOSS = "Moss kommune mener fastlegeordningen må styrkes. Rekruttering av sykepleiere er krevende."
BERGEN = "Bergen kommune vil ha kortere lister for fastlegene. Legevakten fungerer godt i dag."
DOCUMENTS = {
    "moss": StoredDocument("moss", "moss.txt", "Moss kommune", MOSS),
    "bergen": StoredDocument("bergen", "bergen.txt", "Bergen kommune", BERGEN),
}

QUESTIONS = (
    Question(
        "f1",
        "Hva mener Moss om fastlegeordningen?",
        "factual",
        (GoldQuote("moss.txt", "fastlegeordningen må styrkes."),),
    ),
    Question(
        "a1",
        "Hva sier kommunene om fastleger?",
        "aggregate",
        (
            GoldQuote("moss.txt", "Moss kommune mener fastlegeordningen må styrkes."),
            GoldQuote("bergen.txt", "Bergen kommune vil ha kortere lister for fastlegene."),
        ),
    ),
    Question("n1", "Hva sier innspillene om månelandinger?", "negative", ()),
)


def span(document_id: str, text: str) -> Passage:
    full = DOCUMENTS[document_id].text
    start = full.index(text)
    return Passage(document_id, start, start + len(text), text)


def cite(document_id: str, text: str) -> Cited:
    p = span(document_id, text)
    return Cited(document_id, DOCUMENTS[document_id].submitter, text, p.start, p.end)


MOSS_FIRST = span("moss", MOSS[:48])
MOSS_SECOND = span("moss", MOSS[49:])
BERGEN_FIRST = span("bergen", BERGEN[:52])
BERGEN_SECOND = span("bergen", BERGEN[53:])

# hybrid: both right; bm25: factual gold at rank 2, aggregate only Bergen; dense: all wrong.
RANKINGS: dict[tuple[str, Mode], list[Passage]] = {
    ("f1", "hybrid"): [MOSS_FIRST, BERGEN_FIRST],
    ("a1", "hybrid"): [MOSS_FIRST, BERGEN_FIRST],
    ("f1", "bm25"): [BERGEN_FIRST, MOSS_FIRST],
    ("a1", "bm25"): [BERGEN_SECOND, BERGEN_FIRST],
    ("f1", "dense"): [MOSS_SECOND],
    ("a1", "dense"): [BERGEN_SECOND],
}
REPLIES = {
    "f1": Reply(False, (cite("moss", "Moss kommune mener fastlegeordningen må styrkes."),)),
    # cites Moss correctly and Bergen off-gold; one citation's offsets are wrong (inexact)
    "a1": Reply(
        False,
        (
            cite("moss", "Moss kommune mener fastlegeordningen må styrkes."),
            cite("bergen", "Legevakten fungerer godt i dag."),
            Cited("bergen", "Bergen kommune", "Legevakten", 54, 64),  # one character late
        ),
    ),
    "n1": Reply(True, ()),
}


@dataclass
class FakeBackend:
    modes: tuple[Mode, ...] = MODES
    target: str = "fake"
    fresh_calls: int = 0
    searched: list[tuple[str, Mode]] = field(default_factory=list)
    questions: tuple[Question, ...] = QUESTIONS
    rankings: dict[tuple[str, Mode], list[Passage]] = field(default_factory=lambda: RANKINGS)
    replies: dict[str, Reply] = field(default_factory=lambda: REPLIES)

    def documents(self) -> dict[str, StoredDocument]:
        return DOCUMENTS

    def qid(self, text: str) -> str:
        return next(q.id for q in self.questions if q.question == text)

    def search(self, query: str, k: int, mode: Mode) -> list[Passage]:
        qid = self.qid(query)
        self.searched.append((qid, mode))
        return self.rankings.get((qid, mode), [])[:k]

    def ask(self, question: str) -> Reply:
        return self.replies[self.qid(question)]

    def fresh(self) -> FakeBackend:
        self.fresh_calls += 1
        return self
