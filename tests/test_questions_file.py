"""Sanity checks for the evaluation question set in eval/questions.jsonl."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).parents[1]
QUESTIONS_PATH = REPO_ROOT / "eval" / "questions.jsonl"
SEEDS_DIR = REPO_ROOT / "seeds"

KINDS = frozenset({"factual", "aggregate", "paraphrase", "negative"})
MIN_QUESTIONS = 50
MIN_PER_KIND = 8
MIN_QUOTES_PER_SOURCE = 8
MIN_QUOTE_WORDS = 8
EXPECTED_SOURCES = frozenset(
    {
        "000_1151dadce9b0985f.txt",
        "001_7127cb6351a76271.txt",
        "002_1929625cad19e101.txt",
        "003_3d69ec6ad6cea8a3.txt",
        "004_fa6abfb1be789bfb.txt",
    }
)

Question = dict[str, Any]


def collapse_whitespace(text: str) -> str:
    """Collapse every run of whitespace (spaces, newlines, NBSP ...) to one space."""
    return " ".join(text.split())


@cache
def load_questions() -> tuple[Question, ...]:
    """Parse the JSONL file, skipping blank lines."""
    lines = QUESTIONS_PATH.read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


@cache
def seed_text(source: str) -> str:
    """Whitespace-collapsed text of one seed file."""
    return collapse_whitespace((SEEDS_DIR / source).read_text(encoding="utf-8"))


def all_relevant() -> list[tuple[str, dict[str, str]]]:
    """(question id, relevant entry) for every gold quote in the file."""
    return [(q["id"], rel) for q in load_questions() for rel in q["relevant"]]


def test_file_has_enough_questions() -> None:
    assert len(load_questions()) >= MIN_QUESTIONS


def test_ids_are_unique() -> None:
    ids = [q["id"] for q in load_questions()]
    duplicates = [qid for qid, n in Counter(ids).items() if n > 1]
    assert not duplicates, f"duplicate ids: {duplicates}"


def test_required_fields_present() -> None:
    for q in load_questions():
        missing = {"id", "question", "kind", "relevant", "note"} - q.keys()
        assert not missing, f"{q.get('id')}: missing {missing}"
        assert q["question"].strip(), f"{q['id']}: empty question"


def test_kinds_are_valid() -> None:
    bad = [(q["id"], q["kind"]) for q in load_questions() if q["kind"] not in KINDS]
    assert not bad, f"unknown kinds: {bad}"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_has_enough_questions(kind: str) -> None:
    count = sum(1 for q in load_questions() if q["kind"] == kind)
    assert count >= MIN_PER_KIND, f"{kind}: only {count} questions"


def test_negative_questions_have_no_gold() -> None:
    bad = [q["id"] for q in load_questions() if q["kind"] == "negative" and q["relevant"]]
    assert not bad, f"negative questions with gold passages: {bad}"


def test_other_questions_have_gold() -> None:
    bad = [q["id"] for q in load_questions() if q["kind"] != "negative" and not q["relevant"]]
    assert not bad, f"non-negative questions without gold passages: {bad}"


def test_sources_are_known() -> None:
    bad = [
        (qid, rel["source"]) for qid, rel in all_relevant() if rel["source"] not in EXPECTED_SOURCES
    ]
    assert not bad, f"unknown sources: {bad}"


def test_quotes_have_enough_words() -> None:
    short = [
        (qid, rel["quote"])
        for qid, rel in all_relevant()
        if len(collapse_whitespace(rel["quote"]).split()) < MIN_QUOTE_WORDS
    ]
    assert not short, f"quotes shorter than {MIN_QUOTE_WORDS} words: {short}"


def test_quotes_occur_in_their_source() -> None:
    missing = [
        (qid, rel["source"], rel["quote"][:60])
        for qid, rel in all_relevant()
        if collapse_whitespace(rel["quote"]) not in seed_text(rel["source"])
    ]
    assert not missing, f"quotes not found verbatim in their source: {missing}"


def test_each_source_has_enough_quotes() -> None:
    counts = Counter(rel["source"] for _, rel in all_relevant())
    thin = {
        src: counts.get(src, 0)
        for src in EXPECTED_SOURCES
        if counts.get(src, 0) < MIN_QUOTES_PER_SOURCE
    }
    assert not thin, f"sources with fewer than {MIN_QUOTES_PER_SOURCE} quotes: {thin}"
