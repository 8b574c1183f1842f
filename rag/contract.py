"""What the API promises its clients: limits, the citation marker, the no-answer text.

One definition of each, used by the API (rag.schemas, rag.config, rag.answer, rag.generate) and
by its clients (ui/). It imports nothing of rag, so the UI may import it and still talk to the
service over HTTP only (tests/test_layers.py keeps it so).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal, Protocol

MAX_K = 50
"""Most passages /ask considers per submitter and /search returns."""
MAX_QUESTION_CHARS = 2000
"""Default longest question (settings may lower it: answer.max_question_chars)."""
MAX_TOPICS = 30
MAX_TOPIC_CHARS = 200
MIN_COMPARED, MAX_COMPARED = 2, 4
"""How many submissions /compare puts side by side."""

MARKER = re.compile(r"\[(\d+)\]")
"""The citation marker «[n]» in answers."""

NO_ANSWER_HEADING = "Ingen relevante treff i innspillene"
NO_ANSWER_TEXT = (
    f"{NO_ANSWER_HEADING}. Spørsmålet ser ikke ut til å bli omtalt i de indekserte "
    "høringsinnspillene."
)

Confidence = Literal["high", "low", "none"]
"""How sure /ask is: high (clear matches), low (weak matches: check the sources), none."""


class TypeCount(Protocol):
    """How many submitters of one type mention a topic, of how many in scope (the API's
    rag.matrix.TypeCount and the UI's ui.client.TypeCount both are one)."""

    @property
    def topic(self) -> str: ...
    @property
    def submitter_type(self) -> str: ...
    @property
    def mentioned(self) -> int: ...
    @property
    def total(self) -> int: ...


def type_plural(submitter_type: str, n: int) -> str:
    """The type's plural when n is not 1: kommune -> kommuner, organisasjon -> organisasjoner,
    statlig -> statlige; a neuter noun (helsefellesskap) keeps its form."""
    if n == 1:
        return submitter_type
    for ending, added in (("e", "r"), ("sjon", "er"), ("lig", "e")):
        if submitter_type.endswith(ending):
            return submitter_type + added
    return submitter_type


def kinds_line(counts: Iterable[tuple[str, int, int]], keep_none: bool = False) -> str:
    """«112 av 200 kommuner, 9 av 12 helsefellesskap» from (type, counted, of how many): how
    an answer, the exports and the workbench count submitters (types with none counted left
    out unless `keep_none`)."""
    return ", ".join(
        f"{counted} av {total} {type_plural(kind, total)}"
        for kind, counted, total in counts
        if counted or keep_none
    )


def count_line(counts: Iterable[TypeCount], topic: str) -> str:
    """«3 av 3 kommuner, 0 av 2 helsefellesskap»: a topic's counts, as every export and the
    workbench write them."""
    mine = ((c.submitter_type, c.mentioned, c.total) for c in counts if c.topic == topic)
    return kinds_line(mine, keep_none=True)
