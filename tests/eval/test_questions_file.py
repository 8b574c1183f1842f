"""Sanity checks for the evaluation question set in eval/questions.jsonl."""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).parents[2]
QUESTIONS_PATH = REPO_ROOT / "eval" / "questions.jsonl"
SEEDS_DIR = REPO_ROOT / "seeds"

KINDS = frozenset({"factual", "aggregate", "paraphrase", "named_paraphrase", "negative"})
SPLITS = frozenset({"dev", "test"})
MIN_QUESTIONS = 150
MIN_PER_KIND = 8
MIN_PARAPHRASE = 30  # questions in the user's own words that name no submitter
MIN_NEGATIVE = 30
UI_APP = REPO_ROOT / "ui" / "app.py"
# Names a question could use to point at one submitter (the submitters and the places of the
# local cooperation committees whose input is part of the Møre og Romsdal submission).
SUBMITTER_NAMES = re.compile(
    r"\b(Moss|Ahus|Akershus|Stange|Bergen|Møre|Romsdal|Volda|Molde|Ålesund|Kristiansund|"
    r"Nordmøre|LSU)\b"
)
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


@cache
def ui_example_questions() -> tuple[str, ...]:
    """EXAMPLE_QUESTIONS as written in ui/app.py (read from its source: importing the UI would
    start Streamlit)."""
    for node in ast.parse(UI_APP.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "EXAMPLE_QUESTIONS" for t in node.targets
        ):
            return tuple(ast.literal_eval(node.value))
    raise AssertionError("EXAMPLE_QUESTIONS not found in ui/app.py")


def of_kind(kind: str) -> list[Question]:
    return [q for q in load_questions() if q["kind"] == kind]


def test_enough_unnamed_paraphrases_and_negatives() -> None:
    assert len(of_kind("paraphrase")) >= MIN_PARAPHRASE
    assert len(of_kind("negative")) >= MIN_NEGATIVE


def test_paraphrase_questions_name_no_submitter() -> None:
    named = [
        (q["id"], q["question"])
        for q in of_kind("paraphrase")
        if SUBMITTER_NAMES.search(q["question"])
    ]
    assert not named, f"paraphrase questions naming a submitter (kind named_paraphrase): {named}"


def test_named_paraphrase_questions_name_a_submitter_or_its_place() -> None:
    unnamed = [
        q["id"] for q in of_kind("named_paraphrase") if not SUBMITTER_NAMES.search(q["question"])
    ]
    assert not unnamed, f"named_paraphrase questions naming no submitter: {unnamed}"


def test_paraphrases_cover_every_source() -> None:
    covered = {rel["source"] for q in of_kind("paraphrase") for rel in q["relevant"]}
    assert covered == EXPECTED_SOURCES


def test_negative_notes_name_words_the_seeds_do_not_contain() -> None:
    """Every negative says which words were grepped for; none of them may occur in a seed."""
    corpus = " ".join(seed_text(source) for source in EXPECTED_SOURCES).casefold()
    problems = []
    for q in of_kind("negative"):
        grepped = re.search(r"grep (.+?): 0 treff", q["note"])
        if grepped is None:
            problems.append((q["id"], "note does not say what was grepped"))
            continue
        words = [w.strip("«» ").casefold() for w in grepped.group(1).split("/")]
        problems += [(q["id"], w) for w in words if w in corpus]
    assert not problems, f"negatives whose words occur in the seeds: {problems}"


def test_every_question_has_a_split_and_each_kind_is_split_about_evenly() -> None:
    bad = [(q["id"], q.get("split")) for q in load_questions() if q.get("split") not in SPLITS]
    assert not bad, f"questions without a valid split: {bad}"
    for kind in KINDS:
        calibrated = Counter(q["split"] for q in of_kind(kind) if not q.get("ui_example"))
        assert abs(calibrated["dev"] - calibrated["test"]) <= 1, f"{kind}: {calibrated}"


def test_every_ui_example_is_an_answerable_test_question() -> None:
    marked = {q["question"]: q for q in load_questions() if q.get("ui_example")}
    assert set(marked) == set(ui_example_questions())
    for q in marked.values():
        assert q["kind"] != "negative" and q["relevant"], q["id"]
        assert q["split"] == "test", f"{q['id']}: UI examples are reported, never calibrated on"
