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
from fakes import FAKE_RETRIEVAL, FakeEmbedder

from indexer.build import build_index
from rag.config import ChunkSettings, Settings
from rag.query import Query
from rag.types import (
    Document,
    DocumentEvidence,
    Evidence,
    Filters,
    ScoredSentence,
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


def scored(
    document: Document, text: str, score: float, similarity: float | None = None
) -> ScoredSentence:
    """The first occurrence of `text` in the document as a scored sentence."""
    start = document.text.index(text)
    sentence = Sentence(document.document_id, start, start + len(text), ())
    return ScoredSentence(sentence, score if similarity is None else similarity, score)


def found_in(
    document: Document, *sentences: tuple[str, float], support: float | None = None
) -> DocumentEvidence:
    """A document's evidence: (sentence text, score) pairs, best first; its support is its best
    score unless given."""
    found = tuple(scored(document, t, s) for t, s in sentences)
    backing = support if support is not None else (found[0].score if found else -1.0)
    return DocumentEvidence(document, found, backing)


def evidence_of(found: Iterable[DocumentEvidence], support: float | None = None) -> Evidence:
    """Evidence of the documents as given; its support is their best support unless given."""
    documents = tuple(found)
    backing = support if support is not None else max((d.support for d in documents), default=-1.0)
    return Evidence(documents, backing)


def make_query(
    text: str,
    named: frozenset[str] = frozenset(),
    corpus_wide: bool = False,
    vocabulary_coverage: float = 1.0,
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
    )


@dataclass(frozen=True)
class Builders:
    """The builders above, handed to tests as one fixture (conftest is not importable)."""

    scored: Callable[..., ScoredSentence] = scored
    found_in: Callable[..., DocumentEvidence] = found_in
    evidence: Callable[..., Evidence] = evidence_of
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
        retrieval=FAKE_RETRIEVAL,
    )
    return Corpus(tmp_path / "sources", settings)
