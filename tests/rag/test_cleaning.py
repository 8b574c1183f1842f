"""The one cleaning rule (rag/cleaning.py): document text, names, questions, topics and filters
go through the same function, so hidden characters never make two equal strings differ."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

import indexer.clean
from rag import cleaning
from rag.cleaning import plain_line, shown
from rag.matrix import read_topics
from rag.schemas import CompareRequest, FiltersIn, MatrixRequest
from rag.types import Filters

# How the probe wrote «legevakt»: a zero-width space, a right-to-left override, a soft hyphen,
# and terminal escapes, NUL, a bell, a C1 CSI and a carriage return.
HIDDEN = (
    "lege\u200bvakt",
    "\u202elegevakt",
    "l\u00adegevakt",
    "lege\x1b\x00\x07vakt",
    "lege\x9bvakt",
    "\u2066legevakt\u2069",
    "\ufefflegevakt",
    "lege\U000e0041\U000e0042vakt",  # tag characters: hidden ASCII
)


@pytest.mark.parametrize("hidden", HIDDEN)
def test_hidden_and_control_characters_are_removed(hidden: str) -> None:
    assert plain_line(hidden) == "legevakt"


def test_a_line_is_one_line_with_single_spaces_in_nfc() -> None:
    assert plain_line("  Moss\r\nkommune \t\u2028 Ås\n") == "Moss kommune Ås"
    assert plain_line("A\u030as") == "Ås"  # NFC: the combining ring joins the A


def test_document_text_is_cleaned_by_the_same_rule() -> None:
    assert indexer.clean.normalise is cleaning.normalise
    assert indexer.clean.clean_text("Om lege\u200bvakt og \u202etann\x1bhelse.").text == (
        "Om legevakt og tannhelse."
    )


def test_filter_values_are_cleaned() -> None:
    filters = FiltersIn(
        submitter=["Bergen\u200b kommune"], submitter_type=["\u202ekommune"], document_id=["b\x00"]
    )
    assert filters.to_filters() == Filters(("Bergen kommune",), ("kommune",), ("b",))


def test_topics_are_cleaned_and_compared_after_cleaning() -> None:
    assert MatrixRequest(topics=["\u202elegevakt", " barn og\u00ad unge "]).topics == [
        "legevakt",
        "barn og unge",
    ]
    for hidden in HIDDEN:
        with pytest.raises(ValidationError, match="gjentas: legevakt"):
            MatrixRequest(topics=["legevakt", hidden])
    with pytest.raises(ValidationError, match="tomt"):
        MatrixRequest(topics=["\u200b\u202e"])


def test_the_topics_file_is_cleaned(tmp_path: Path) -> None:
    topics = tmp_path / "topics.txt"
    topics.write_text("# temaer\nlege\u200bvakt\n\u202etannhelse\nlegevakt\n", encoding="utf-8")
    assert read_topics(topics) == ["legevakt", "tannhelse"]


def test_a_compared_question_is_checked_later_but_echoed_clean() -> None:
    body = CompareRequest(question="\u202eHva om legevakt?", document_ids=["a", "b"])
    assert plain_line(body.question) == "Hva om legevakt?"


def test_shown_escapes_what_plain_line_would_hide_and_bytes_that_are_not_utf8() -> None:
    assert shown("a\x1b[2J\r\u202eb\tc\x9b.txt") == "a\\x1b[2J\\r\\u202eb\\tc\\x9b.txt"
    assert shown(os.fsdecode(b"innspill_\xff.txt")) == "innspill_\\xff.txt"
    assert shown("Ås kommune – innspill.pdf") == "Ås kommune – innspill.pdf"
