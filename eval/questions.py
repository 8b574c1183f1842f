"""The evaluation question set (eval/questions.jsonl) as typed, frozen records."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast, get_args

from rag.errors import RagError

# paraphrase: in the user's own words, naming no submitter; named_paraphrase: the same, but the
# question names a submitter («ifølge Moss»), which lets the answer path narrow to one document.
Kind = Literal["factual", "aggregate", "paraphrase", "named_paraphrase", "negative"]
KINDS: tuple[Kind, ...] = get_args(Kind)
ANSWERABLE_KINDS: tuple[Kind, ...] = ("factual", "aggregate", "paraphrase", "named_paraphrase")
# dev: for calibrating thresholds and choosing settings; test: what gets reported and gated.
Split = Literal["dev", "test"]
SPLITS: tuple[Split, ...] = get_args(Split)
SplitChoice = Literal["dev", "test", "all"]
SPLIT_CHOICES: tuple[SplitChoice, ...] = get_args(SplitChoice)
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
    split: Split = "test"
    ui_example: bool = False  # one of the example questions the UI offers

    @property
    def answerable(self) -> bool:
        return self.kind != "negative"


def parse_question(record: dict[str, object]) -> Question:
    kind = str(record["kind"])
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    split = str(record.get("split", "test"))
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    ui_example = record.get("ui_example", False)
    if not isinstance(ui_example, bool):
        raise ValueError(f"ui_example must be true or false, got {ui_example!r}")
    relevant = cast(list[dict[str, str]], record.get("relevant", []))
    return Question(
        id=str(record["id"]),
        question=str(record["question"]),
        kind=kind,
        relevant=tuple(GoldQuote(r["source"], r["quote"]) for r in relevant),
        note=str(record.get("note", "")),
        split=split,
        ui_example=ui_example,
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


def select_split(questions: Sequence[Question], split: SplitChoice) -> tuple[Question, ...]:
    """The questions of one split, or all of them."""
    if split not in SPLIT_CHOICES:
        raise QuestionsError(f"unknown split {split!r}; valid: {', '.join(SPLIT_CHOICES)}")
    return tuple(q for q in questions if split == "all" or q.split == split)


def stratified_split(questions: Sequence[Question], salt: str = "evalset") -> dict[str, Split]:
    """A deterministic split, about half of each kind in dev and half in test.

    Within a kind, questions are ordered by a hash of their id (so the order in the file does not
    matter) and dealt alternately to test and dev. UI examples always go to test: they are reported
    on their own and must never be used for calibration. This is how the `split` fields in
    eval/questions.jsonl were assigned; new questions may be given either split by hand as long as
    each kind stays balanced (tests/eval/test_questions_file.py checks it).
    """
    assigned: dict[str, Split] = {q.id: "test" for q in questions if q.ui_example}
    for group in by_kind([q for q in questions if not q.ui_example]).values():
        ordered = sorted(group, key=lambda q: hashlib.sha256(f"{salt}:{q.id}".encode()).hexdigest())
        for position, question in enumerate(ordered):
            assigned[question.id] = "test" if position % 2 == 0 else "dev"
    return assigned
