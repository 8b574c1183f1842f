"""Which sentences can be quoted as what a submitter says.

URLs, bare headings, page furniture («Side 3 av 12», «Tlf. 22 00 00 00») and fragments under
`MIN_WORDS` words are not statements: they are never quoted, and they do not make a document
look relevant.
"""

from __future__ import annotations

import re

from rag.sentences import word_count
from rag.types import Document, Sentence

MIN_WORDS = 6
MAX_URL_SHARE = 0.3
_URL = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\w+")
_FURNITURE = re.compile(
    r"^(?:side \d+|\d+ av \d+|tlf\.?|telefon|e-?post|postadresse|besøksadresse|"
    r"org\.? ?nr|saksnr|vår ref|deres ref|dato)\b",
    re.IGNORECASE,
)
_LOWER_WORD = re.compile(r"\b[a-zæøå]{3,}\b")


def is_statement_text(text: str) -> bool:
    """Enough words, mostly not URLs or addresses, not page furniture, some ordinary words."""
    urls = sum(len(m) for m in _URL.findall(text))
    without_urls = _URL.sub(" ", text)
    return (
        word_count(without_urls) >= MIN_WORDS
        and urls <= MAX_URL_SHARE * len(text)
        and not _FURNITURE.match(text)
        and len(_LOWER_WORD.findall(without_urls)) >= MIN_WORDS // 2
    )


def is_heading(document: Document, sentence: Sentence) -> bool:
    return any(s.start == sentence.start for s in document.sections)


def is_statement(document: Document, sentence: Sentence) -> bool:
    text = document.text[sentence.start : sentence.end]
    return not is_heading(document, sentence) and is_statement_text(text)
