"""Question records: kinds, splits and the UI-example flag, and the deterministic split."""

from __future__ import annotations

from collections import Counter

import pytest

from eval.questions import (
    ANSWERABLE_KINDS,
    Kind,
    Question,
    QuestionsError,
    parse_question,
    select_split,
    stratified_split,
)


def record(**fields: object) -> dict[str, object]:
    return {"id": "q1", "question": "Hva?", "kind": "paraphrase", "relevant": [], **fields}


def test_split_and_ui_flag_are_read_and_default_to_test_and_false() -> None:
    parsed = parse_question(record(split="dev", ui_example=True))
    assert (parsed.split, parsed.ui_example) == ("dev", True)
    plain = parse_question(record())
    assert (plain.split, plain.ui_example) == ("test", False)


def test_bad_split_and_ui_flag_name_the_problem() -> None:
    with pytest.raises(ValueError, match="unknown split 'train'; valid splits: dev, test"):
        parse_question(record(split="train"))
    with pytest.raises(ValueError, match="ui_example must be true or false"):
        parse_question(record(ui_example="yes"))


def test_named_paraphrase_is_an_answerable_kind_of_its_own() -> None:
    assert parse_question(record(kind="named_paraphrase")).answerable
    assert "named_paraphrase" in ANSWERABLE_KINDS and "paraphrase" in ANSWERABLE_KINDS


def questions(kind: Kind, n: int, prefix: str) -> list[Question]:
    return [Question(f"{prefix}{i}", f"{prefix} {i}?", kind, ()) for i in range(n)]


def test_select_split_filters_and_rejects_unknown_names() -> None:
    qs = [Question("a", "a?", "factual", (), split="dev"), Question("b", "b?", "factual", ())]
    assert [q.id for q in select_split(qs, "dev")] == ["a"]
    assert [q.id for q in select_split(qs, "test")] == ["b"]
    assert [q.id for q in select_split(qs, "all")] == ["a", "b"]
    with pytest.raises(QuestionsError, match="valid: dev, test, all"):
        select_split(qs, "train")  # type: ignore[arg-type]


def test_stratified_split_halves_each_kind_and_keeps_ui_examples_in_test() -> None:
    qs = [*questions("paraphrase", 7, "p"), *questions("negative", 4, "n")]
    ui = Question("ui", "Hva sier kommunene?", "aggregate", (), ui_example=True)
    split = stratified_split([*qs, ui])
    assert split["ui"] == "test"
    per_kind = Counter((q.kind, split[q.id]) for q in qs)
    assert per_kind[("paraphrase", "test")] == 4 and per_kind[("paraphrase", "dev")] == 3
    assert per_kind[("negative", "test")] == 2 and per_kind[("negative", "dev")] == 2
    assert stratified_split(list(reversed([*qs, ui]))) == split  # order in the file is irrelevant
