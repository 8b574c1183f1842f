"""A question parsed once: its text, vector, stems, word weights, named submitters and filters.

Every stage after the edge takes a `Query` and never re-tokenises, re-embeds or re-validates.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rag.bm25 import Bm25Index, tokenize
from rag.cleaning import plain_line
from rag.errors import InvalidQuestion
from rag.lexical import Term, content_terms
from rag.store import StoredIndex
from rag.types import Document, Filters
from rag.vocabulary import Vocabulary, coverage, is_word

# Words in a submitter's name that do not single it out («Moss kommune» is named by «Moss»).
GENERIC_NAME_WORDS = frozenset(
    {"kommune", "kommunene", "kommunes", "fylkeskommune", "helsefellesskapet"}
    | {"helsefellesskap", "og", "for", "i", "av", "til"}
)
# Words that make a question about the whole corpus rather than about one place in it.
CORPUS_WIDE_WORDS = frozenset(
    {"innspillene", "innspill", "høringsinnspillene", "høringssvarene", "kommunene"}
    | {"helsefellesskapene", "innsenderne", "aktørene", "alle", "hvem"}
)
# Words that ask one kind of submitter: «Hva sier kommunene om …» asks the municipalities.
TYPE_WORDS = {
    "kommunene": "kommune",
    "helsefellesskapene": "helsefellesskap",
    "organisasjonene": "organisasjon",
    "fylkeskommunene": "fylkeskommune",
}
_WORD = re.compile(r"\w\w+")
# Questions -> every encoder's vectors side by side; words -> the vocabulary encoder's vectors.
Embed = Callable[
    [Sequence[str], Sequence[str]],
    tuple[list[NDArray[np.float32]], list[NDArray[np.float32]]],
]


@dataclass(frozen=True)
class Query:
    text: str
    vector: NDArray[np.float32]
    # the question without the submitters it names, for choosing among sentences (which are
    # embedded without their submitter); `vector` itself when it names none
    topic_vector: NDArray[np.float32]
    stems: tuple[str, ...]
    terms: tuple[Term, ...]
    weights: Mapping[str, float]
    named_documents: frozenset[str]
    corpus_wide: bool
    filters: Filters
    # how well the corpus knows the words of the question's topic (`rag.vocabulary`), 0..1;
    # None when parsed for /search, which ranks passages without deciding whether to answer
    vocabulary_coverage: float | None
    # the submitter types the question's own words ask about («kommunene»), which `filters`
    # then admit alone; () when it names none or the caller asked for every submitter
    scope: tuple[str, ...] = ()


def words_of(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def name_words(submitter: str) -> set[str]:
    return words_of(submitter) - GENERIC_NAME_WORDS


def name_stems(documents: Iterable[Document]) -> frozenset[str]:
    """Stems of the words that single out a submitter («bergen», not «kommune»)."""
    words = set().union(*(name_words(d.submitter) for d in documents))
    return frozenset(tokenize(" ".join(words)))


def submitter_names(documents: Iterable[Document]) -> dict[str, frozenset[str]]:
    """Each document's submitter's name words, of the documents whose submitter has any: read
    once per index, not per question (3,000 submitters: 11 ms a question)."""
    names = {d.document_id: frozenset(name_words(d.submitter)) for d in documents}
    return {document: words for document, words in names.items() if words}


def named_documents(
    question_words: set[str], names: Mapping[str, frozenset[str]]
) -> frozenset[str]:
    """Documents whose submitter the question names («Hva mener Bergen om ...»); `names` as
    `submitter_names`."""
    return frozenset(document for document, words in names.items() if words <= question_words)


def topic_terms(terms: Sequence[Term]) -> list[Term]:
    """The distinct content words of a question's topic that say what it is about (`terms`
    already hold no stopwords or question phrasing): no words that only widen it to the whole
    corpus, no numbers."""
    kept = (t for t in terms if t.word not in CORPUS_WIDE_WORDS and is_word(t.word))
    return list({t.word: t for t in kept}.values())


def without_names(text: str, submitters: Iterable[str]) -> str:
    """The question with the named submitters taken out: «Hva mener Bergen kommune om X?» ->
    «Hva mener om X?». A name's words go with their endings («Bergens»)."""
    for submitter in submitters:
        text = re.sub(re.escape(submitter), " ", text, flags=re.IGNORECASE)
        for word in name_words(submitter):
            text = re.sub(rf"\b{re.escape(word)}\w*", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())


def is_unicode_text(text: str) -> bool:
    """False for strings that cannot be written as UTF-8 (lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def checked_text(question: str, max_chars: int) -> str:
    """The question as it is read: cleaned by the project's one rule (rag/cleaning.py), so
    invisible, bidi and control characters change nothing («lege\\u200bvakt» is «legevakt»)."""
    cleaned = plain_line(question)
    if not cleaned:
        raise InvalidQuestion("Spørsmålet er tomt. Skriv et spørsmål.")
    if len(question) > max_chars:
        raise InvalidQuestion(f"Spørsmålet er for langt ({len(question)} tegn; maks {max_chars}).")
    if not is_unicode_text(question):
        # e.g. a lone surrogate from a JSON escape ("\\ud800"), which no embedder can encode
        raise InvalidQuestion("Spørsmålet inneholder tegn som ikke er gyldig Unicode.")
    return cleaned


@dataclass(frozen=True)
class QueryParser:
    """Builds `Query` objects for one index; cheap to share between requests."""

    documents: Mapping[str, Document]
    bm25: Bm25Index
    embed: Embed
    max_chars: int
    submitter_stems: frozenset[str]
    vocabulary: Vocabulary
    names: Mapping[str, frozenset[str]]  # `submitter_names` of the documents

    @classmethod
    def of(
        cls,
        index: StoredIndex,
        embed: Embed,
        max_chars: int,
    ) -> QueryParser:
        """The parser of questions to `index`; `embed` as `Retriever.embed_question`."""
        documents = index.documents.values()
        stems, names = name_stems(documents), submitter_names(documents)
        return cls(index.documents, index.bm25, embed, max_chars, stems, index.vocabulary, names)

    def parse(
        self,
        question: str,
        filters: Filters,
        corpus_wide: bool | None = None,
        answering: bool = True,
        scoped: bool = False,
    ) -> Query:
        """The question parsed; `answering` False (for /search) leaves out its vocabulary
        coverage, which only the decision to answer needs and which costs an embedding per
        word the corpus does not use. `scoped` (for /ask): a question that names a kind of
        submitter («kommunene») is asked of them alone, unless the filters already choose
        types."""
        text = checked_text(question, self.max_chars)
        terms = tuple(content_terms(text, query=True))
        stems = tuple(t.stem for t in terms)
        weights = dict(self.bm25.idf(stems))
        for stem in self.submitter_stems & weights.keys():
            weights[stem] = 0.0  # «Hva mener Bergen om ...» asks about a topic, not about Bergen
        asked = words_of(text)
        named = named_documents(asked, self.names)
        topic = without_names(text, (self.documents[d].submitter for d in named)) or text
        asked_terms = terms if topic == text else content_terms(topic, query=True)
        words = topic_terms(asked_terms) if answering else []
        unknown = [t.word for t in words if not self.bm25.in_corpus(t.stem)]
        vector, topic_vector, unknown_vectors = self.vectors(text, topic, unknown)
        closest = self.vocabulary.closest(unknown_vectors)
        scope = self.scope_of(asked) if scoped and not filters.submitter_type else ()
        if scope:
            filters = dataclasses.replace(filters, submitter_type=scope)
        return Query(
            text=text,
            vector=vector,
            topic_vector=topic_vector,
            stems=stems,
            terms=terms,
            weights=weights,
            named_documents=named,
            corpus_wide=bool(asked & CORPUS_WIDE_WORDS) if corpus_wide is None else corpus_wide,
            filters=filters,
            vocabulary_coverage=coverage(len(words), closest) if answering else None,
            scope=scope,
        )

    def scope_of(self, asked: set[str]) -> tuple[str, ...]:
        """The submitter types the question's words ask about, of those the index has."""
        present = {d.submitter_type for d in self.documents.values()}
        return tuple(sorted({TYPE_WORDS[w] for w in asked & TYPE_WORDS.keys()} & present))

    def vectors(
        self, text: str, topic: str, words: Sequence[str]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
        """The vectors of the question and its topic (every encoder's) and of `words` (in the
        vocabulary's space, one row each), embedded in one call."""
        texts = list(dict.fromkeys([text, topic]))
        vectors, rows = self.embed(texts, words)
        found = dict(zip(texts, vectors, strict=True))
        width = self.vocabulary.dimension
        return found[text], found[topic], np.array(rows, dtype=np.float32).reshape(-1, width)
