"""Builders shared by the rag unit tests: three hand-made submissions, evidence on them, indexes.

The same three texts serve as `Document`s for the decision and answer tests and as source
files for the retrieval and service tests, which index them with the fake embedder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEmbedder, write_fake_policy

from indexer.build import build_index
from rag.config import ChunkSettings, Settings
from rag.policy import Policy, Support, Thresholds
from rag.query import Query
from rag.sentences import wording
from rag.types import (
    Candidates,
    Document,
    DocumentEvidence,
    Evidence,
    Filters,
    Section,
    Sentence,
)


@dataclass(frozen=True)
class Submission:
    submitter: str
    submitter_type: str
    headings: tuple[str, ...]
    text: str


SUBMISSIONS = {
    "bergen": Submission(
        "Bergen kommune",
        "kommune",
        ("Fastlegeordningen", "Legevakt"),
        "Innspill fra Bergen kommune\n\n"
        "Fastlegeordningen\n"
        "Fastlegeordningen er under sterkt press i Bergen, og mange innbyggere står uten fastlege. "
        "Kommunen foreslår f.eks. flere faste stillinger for fastleger. "
        "Rekruttering av fastleger må prioriteres nasjonalt.\n\n"
        "Legevakt\n"
        "Legevakten i Bergen har lange ventetider om natten. "
        "Vi trenger flere sykepleiere på legevakten i helgene.\n",
    ),
    "moss": Submission(
        "Moss kommune",
        "kommune",
        ("Samhandling", "Fastlegene"),
        "Innspill fra Moss kommune\n\n"
        "Samhandling\n"
        "Moss kommune har god erfaring med samarbeid i nettverk på tvers av avdelinger. "
        "Samarbeidsavtalene med sykehuset fungerer godt for pasientene.\n\n"
        "Fastlegene\n"
        "Fastlegene i Moss har for mange pasienter på listene sine. "
        "Fastlegeordningen bør finansieres bedre av staten.\n",
    ),
    "more": Submission(
        "Møre og Romsdal fylkeskommune",
        "fylkeskommune",
        ("Tannhelse",),
        "Innspill fra Møre og Romsdal fylkeskommune\n\n"
        "Tannhelse\n"
        "Den offentlige tannhelsetjenesten trenger flere tannleger i distriktene. "
        "Ventetiden for tannbehandling er for lang for eldre på sykehjem.\n",
    ),
}


def as_document(document_id: str, submission: Submission) -> Document:
    text = submission.text
    sections = tuple(Section(text.index(f"\n{h}\n") + 1, h) for h in submission.headings)
    return Document(
        document_id=document_id,
        source=f"{document_id}.txt",
        submitter=submission.submitter,
        submitter_type=submission.submitter_type,
        title=f"Innspill fra {submission.submitter}",
        text=text,
        content_hash=document_id,
        sections=sections,
    )


@pytest.fixture
def documents() -> dict[str, Document]:
    """The three submissions as documents, with their headings as sections."""
    return {doc_id: as_document(doc_id, s) for doc_id, s in SUBMISSIONS.items()}


ENCODER = "test-encoder"  # the one encoder of hand-built evidence


@dataclass(frozen=True)
class Found:
    """One document's hand-built evidence: sentences (by text) with their scores, best first,
    and its support (its best score unless given)."""

    document: Document
    sentences: tuple[tuple[Sentence, float], ...]
    support: float | None = None

    @property
    def best(self) -> float:
        return self.sentences[0][1] if self.sentences else -1.0


def sentence_of(document: Document, text: str) -> Sentence:
    """The first occurrence of `text` in the document as a sentence."""
    start = document.text.index(text)
    return Sentence(document.document_id, start, start + len(text), ())


def found_in(
    document: Document, *sentences: tuple[str, float], support: float | None = None
) -> Found:
    return Found(document, tuple((sentence_of(document, t), s) for t, s in sentences), support)


def evidence_of(
    found: Iterable[Found], support: float | None = None, coverage: float = 1.0
) -> Evidence:
    """Evidence as `rag.retrieve` builds it, for the policy `hand_policy` (one encoder, no
    context, typicality weighing 1, the best sentence as support): a sentence's own and chunk
    cosines are its score; its typicality makes its document's support the one given; the
    corpus's support (the best document's) is shifted to `support` when given."""
    documents = tuple(found)
    supports = [f.support if f.support is not None else f.best for f in documents]
    overall = max((s for f, s in zip(documents, supports, strict=True) if f.sentences), default=-1)
    shift = 0.0 if support is None else overall - support
    sentences: list[Sentence] = []
    wordings: dict[str, int] = {}
    built = []
    for f, own_support in zip(documents, supports, strict=True):
        rows = np.arange(len(sentences), len(sentences) + len(f.sentences), dtype=np.int64)
        sentences += [s for s, _ in f.sentences]
        scores = np.array([[score] for _, score in f.sentences], dtype=np.float32).reshape(-1, 1)
        typical = np.full_like(scores, f.best - own_support + shift)
        said = [
            wordings.setdefault(wording(f.document.text[s.start : s.end]), len(wordings))
            for s, _ in f.sentences
        ]
        candidates = Candidates(
            rows,
            scores,
            scores.copy(),
            typical,
            np.array(said, dtype=np.int64),
            np.zeros(len(rows), dtype=np.float32),
        )
        built.append(DocumentEvidence(f.document, candidates))
    return Evidence(tuple(built), tuple(sentences), (ENCODER,), coverage)


def hand_policy(**thresholds: float) -> Policy:
    """The policy hand-built evidence is decided under (`evidence_of`), with these thresholds
    (defaults: refuse under 0.5, confident from 0.7, quote from 0.55, specific gap 0.05)."""
    values = {
        "low_confidence": 0.5,
        "high_confidence": 0.7,
        "submitter_threshold": 0.55,
        "specific_gap": 0.05,
        "corpus_gap": 1.0,
    }
    return Policy(
        weights={ENCODER: 1.0},
        support_weights={ENCODER: 1.0},
        context_mix=0.0,
        support=Support(typicality_weight=1.0, support_sentences=1, vocabulary_weight=0.0),
        thresholds=Thresholds(**(values | thresholds)),
    )


def make_query(
    text: str,
    named: frozenset[str] = frozenset(),
    corpus_wide: bool = False,
    vocabulary_coverage: float = 1.0,
    scope: tuple[str, ...] = (),
) -> Query:
    """A parsed question for stages after parsing (they read text, names, scope and how well
    the corpus knows its words only)."""
    return Query(
        text=text,
        vector=np.zeros(4, dtype=np.float32),
        topic_vector=np.zeros(4, dtype=np.float32),
        stems=(),
        terms=(),
        weights={},
        named_documents=named,
        corpus_wide=corpus_wide,
        filters=Filters(),
        vocabulary_coverage=vocabulary_coverage,
        scope=scope,
    )


@dataclass(frozen=True)
class Builders:
    """The builders above, handed to tests as one fixture (conftest is not importable)."""

    found_in: Callable[..., Found] = found_in
    evidence: Callable[..., Evidence] = evidence_of
    policy: Callable[..., Policy] = hand_policy
    query: Callable[..., Query] = make_query


@pytest.fixture
def make() -> Builders:
    return Builders()


# --- indexes built from the submissions with the fake embedder -----------------------------


class Corpus:
    """The submissions as source files, indexed (and re-indexed) with a FakeEmbedder."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        self.folder = folder
        self.settings = settings
        folder.mkdir()
        rows = ["file,submitter,submitter_type,title"]
        for doc_id, s in SUBMISSIONS.items():
            (folder / f"{doc_id}.txt").write_text(s.text, encoding="utf-8")
            rows.append(f"{doc_id}.txt,{s.submitter},{s.submitter_type},Innspill {doc_id}")
        (folder / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    @property
    def index_path(self) -> Path:
        return self.settings.index.path

    def build(self) -> Path:
        """Index the sources into `index_path`; returns the build directory it points at."""
        build_index([self.folder], self.index_path, self.settings, FakeEmbedder)
        write_fake_policy(self.index_path)
        return self.index_path.resolve()

    def append(self, doc_id: str, sentence: str) -> None:
        path = self.folder / f"{doc_id}.txt"
        path.write_text(path.read_text(encoding="utf-8") + sentence + "\n", encoding="utf-8")


@pytest.fixture
def corpus(tmp_path: Path, tmp_settings: Settings) -> Corpus:
    """Sources written, not yet indexed; small chunks, so every document has several."""
    settings = Settings(
        index=tmp_settings.index,
        chunk=ChunkSettings(size=150, overlap=0),
    )
    return Corpus(tmp_path / "sources", settings)
