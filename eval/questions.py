"""The evaluation question set (eval/questions.jsonl) as typed, frozen records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast, get_args

from rag.errors import RagError

Kind = Literal["factual", "aggregate", "paraphrase", "negative"]
KINDS: tuple[Kind, ...] = get_args(Kind)
ANSWERABLE_KINDS: tuple[Kind, ...] = ("factual", "aggregate", "paraphrase")
DEFAULT_QUESTIONS = Path("eval/questions.jsonl")


class QuestionsError(RagError):
    """The questions file is missing or malformed; the message names the line."""


@dataclass(frozen=True)
class GoldQuote:
    """A passage that answers the question, quoted verbatim from the source file."""

    source: str
    quote: str


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    kind: Kind
    relevant: tuple[GoldQuote, ...]
    note: str = ""

    @property
    def answerable(self) -> bool:
        return self.kind != "negative"


def parse_question(record: dict[str, object]) -> Question:
    kind = str(record["kind"])
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    relevant = cast(list[dict[str, str]], record.get("relevant", []))
    return Question(
        id=str(record["id"]),
        question=str(record["question"]),
        kind=kind,
        relevant=tuple(GoldQuote(r["source"], r["quote"]) for r in relevant),
        note=str(record.get("note", "")),
    )


def load_questions(path: Path = DEFAULT_QUESTIONS) -> tuple[Question, ...]:
    """Every question in a JSONL file (blank lines skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise QuestionsError(f"cannot read questions file {path}: {exc}") from exc
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(parse_question(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise QuestionsError(f"{path}:{number}: bad question record: {exc}") from exc
    if not questions:
        raise QuestionsError(f"no questions in {path}")
    return tuple(questions)


def by_kind(questions: Sequence[Question]) -> dict[Kind, list[Question]]:
    grouped: dict[Kind, list[Question]] = {kind: [] for kind in KINDS}
    for question in questions:
        grouped[question.kind].append(question)
    return grouped
